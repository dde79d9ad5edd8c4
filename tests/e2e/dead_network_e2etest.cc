// A network to PostgreSQL that goes silent: the real binary talks to the database through a TCP
// proxy that the test freezes with SIGSTOP. The proxy's kernel still accepts connections and
// acknowledges data, so no error ever comes back: only the service's own bounds can notice.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <regex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/bad_requests.h"
#include "tests/support/booking_server.h"
#include "tests/support/eventually.h"
#include "tests/support/http_call.h"
#include "tests/support/load.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"
#include "tickets/v1/admin.grpc.pb.h"

namespace booking::e2e {
namespace {

using testing::Eventually;

// SERVING, NOT_SERVING, or UNKNOWN when the health service itself does not answer in 1 s.
grpc::health::v1::HealthCheckResponse::ServingStatus Health(const std::string& target) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("tickets.v1.BookingService");
  grpc::health::v1::HealthCheckResponse response;
  if (!stub->Check(&context, request, &response).ok()) {
    return grpc::health::v1::HealthCheckResponse::UNKNOWN;
  }
  return response.status();
}

// The test database's URL with its port replaced by the proxy's.
std::string ThroughProxy(const std::string& url, int proxy_port) {
  return std::regex_replace(url, std::regex(R"(:(\d+)/)"), absl::StrCat(":", proxy_port, "/"));
}

int PortOf(const std::string& url) {
  std::smatch match;
  EXPECT_TRUE(std::regex_search(url, match, std::regex(R"(:(\d+)/)"))) << url;
  return match.empty() ? 5432 : std::stoi(match[1]);
}

grpc::Status SendOne(const std::string& target, int number, absl::Duration* took) {
  auto stub = tickets::v1::BookingService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  context.AddMetadata("idempotency-key", absl::StrCat("frozen-", number));
  tickets::v1::UpdateTicketsStatusResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status =
      stub->UpdateTicketsStatus(&context, testing::ValidRequest(1, "d00000aa", number), &response);
  *took = absl::Now() - start;
  return status;
}

TEST(DeadNetworkE2eTest, FrozenDatabaseNetworkIsNoticedRefusedAndSurvived) {
  testing::TestDatabase db;
  const int proxy_port = testing::PickFreePort();
  testing::ServerProcess proxy(TCP_PROXY_PATH,
                               {std::to_string(proxy_port), std::to_string(PortOf(db.url()))});
  ASSERT_TRUE(proxy.Start().ok());
  const std::string url = ThroughProxy(db.url(), proxy_port);
  ASSERT_TRUE(
      Eventually([&] { return testing::CountRows(url, "pg_class") > 0; }, absl::Seconds(10)))
      << proxy.ReadLog();

  // Default bounds: the point is what an operator gets without tuning anything.
  auto server = testing::BookingServer::Start(url, {"--delivery_lease=2s"});
  ASSERT_TRUE(server->ready());

  testing::Load load({server->target()}, 4, "d0000001");
  ASSERT_TRUE(Eventually([&] { return load.acknowledged().size() >= 100; }));

  // The network goes silent.
  ASSERT_EQ(kill(proxy.pid(), SIGSTOP), 0);
  const absl::Time frozen = absl::Now();
  ASSERT_TRUE(Eventually(
      [&] {
        return Health(server->target()) == grpc::health::v1::HealthCheckResponse::NOT_SERVING;
      },
      absl::Seconds(30)))
      << server->log();
  const absl::Duration noticed = absl::Now() - frozen;
  EXPECT_LT(noticed, absl::Seconds(10)) << "health NOT_SERVING after " << noticed;
  std::printf("health NOT_SERVING %.1f s after the network froze\n",
              absl::ToDoubleSeconds(noticed));

  // New calls are refused at once, with a status that tells the client to retry.
  absl::Duration took;
  grpc::Status refused = SendOne(server->target(), 1, &took);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_LT(took, absl::Seconds(1));
  EXPECT_THAT(refused.error_message(), ::testing::HasSubstr("nothing was published"));

  // The network comes back: everything resumes by itself.
  ASSERT_EQ(kill(proxy.pid(), SIGCONT), 0);
  ASSERT_TRUE(Eventually(
      [&] { return Health(server->target()) == grpc::health::v1::HealthCheckResponse::SERVING; },
      absl::Seconds(30)))
      << server->log();
  const size_t acknowledged_at_resume = load.acknowledged().size();
  ASSERT_TRUE(Eventually([&] { return load.acknowledged().size() > acknowledged_at_resume + 100; }))
      << server->log();
  load.Stop();
  grpc::Status accepted = SendOne(server->target(), 2, &took);
  EXPECT_TRUE(accepted.ok()) << accepted.error_message();

  // Every ticket acknowledged before, during and after the freeze is stored.
  const size_t acknowledged = load.acknowledged().size() + 1;
  ASSERT_TRUE(Eventually([&] {
    return testing::CountRows(db.url(), "tickets") >= static_cast<long long>(acknowledged);
  })) << testing::CountRows(db.url(), "tickets")
      << " of " << acknowledged;
  EXPECT_THAT(server->log(), ::testing::HasSubstr("connection cut"));

  // Frozen again, SIGTERM still ends the process by itself, within its bounds.
  ASSERT_EQ(kill(proxy.pid(), SIGSTOP), 0);
  absl::SleepFor(absl::Milliseconds(500));
  const absl::Time stop_start = absl::Now();
  const absl::Status stopped = server->Stop(absl::Seconds(60));
  EXPECT_TRUE(stopped.ok()) << stopped << server->log();
  std::printf("SIGTERM with the network frozen: exited in %.1f s\n",
              absl::ToDoubleSeconds(absl::Now() - stop_start));
  kill(proxy.pid(), SIGCONT);
}

// Scrapes and the handler status with the database frozen: nothing on an I/O thread or a gRPC
// callback waits for PostgreSQL, so two /metrics scrapes answer at once (the lag as last
// counted, with its age) and /health is answered right after them.
TEST(DeadNetworkE2eTest, ScrapesWithTheDatabaseFrozenBlockNothing) {
  testing::TestDatabase db;
  const int proxy_port = testing::PickFreePort();
  testing::ServerProcess proxy(TCP_PROXY_PATH,
                               {std::to_string(proxy_port), std::to_string(PortOf(db.url()))});
  ASSERT_TRUE(proxy.Start().ok());
  const std::string url = ThroughProxy(db.url(), proxy_port);
  ASSERT_TRUE(
      Eventually([&] { return testing::CountRows(url, "pg_class") > 0; }, absl::Seconds(10)));
  auto server = testing::BookingServer::Start(url);
  ASSERT_TRUE(server->ready());
  const std::string base = server->url();
  testing::HttpCaller http;
  ASSERT_EQ(http.Call("GET", base + "/metrics").status, 200);  // the lag counted once

  ASSERT_EQ(kill(proxy.pid(), SIGSTOP), 0);
  absl::SleepFor(absl::Seconds(6));  // the last count is now old: a scrape would count again
  // Two scrapes at once (the server has two HTTP threads), then the health check.
  const absl::Time start = absl::Now();
  testing::HttpResult scrapes[2];
  std::thread other([&] { scrapes[1] = testing::HttpCaller().Call("GET", base + "/metrics"); });
  scrapes[0] = testing::HttpCaller().Call("GET", base + "/metrics");
  other.join();
  const testing::HttpResult health = testing::HttpCaller().Call("GET", base + "/health");
  const absl::Duration took = absl::Now() - start;
  for (const testing::HttpResult& scrape : scrapes) {
    EXPECT_EQ(scrape.status, 200) << scrape.error;
    EXPECT_THAT(scrape.body, ::testing::HasSubstr("booking_handler_lag_age_seconds "));
  }
  EXPECT_NE(health.status, 0) << health.error;  // answered (503 once the database is missed)
  EXPECT_LT(took, absl::Seconds(2)) << "two scrapes and /health with the database frozen";
  std::printf("two /metrics scrapes and /health with the database frozen: %s\n",
              absl::FormatDuration(took).c_str());

  // The handler status waits on the query executor, not on a gRPC thread: health still answers.
  auto admin = tickets::v1::AdminService::NewStub(server->channel());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  tickets::v1::GetHandlerStatusResponse status;
  grpc::Status status_call;
  std::thread asking([&] { status_call = admin->GetHandlerStatus(&context, {}, &status); });
  absl::SleepFor(absl::Milliseconds(200));
  const absl::Time asked = absl::Now();
  EXPECT_NE(Health(server->target()), grpc::health::v1::HealthCheckResponse::UNKNOWN);
  EXPECT_LT(absl::Now() - asked, absl::Seconds(2));
  kill(proxy.pid(), SIGCONT);
  asking.join();
  EXPECT_TRUE(status_call.ok()) << status_call.error_message();
}

}  // namespace
}  // namespace booking::e2e
