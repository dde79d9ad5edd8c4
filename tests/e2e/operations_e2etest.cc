// What an operator relies on, against the real binary: /metrics moved by a known workload, the
// access log, and no secrets in the logs.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <map>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/bad_requests.h"
#include "tests/support/http_call.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kJson[] = "Content-Type: application/json";

// Samples of a Prometheus text page: "name{labels}" → value; comments skipped.
std::map<std::string, double> ParseMetrics(const std::string& page) {
  std::map<std::string, double> samples;
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

class OperationsE2eTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> extra) {
    grpc_port_ = testing::PickFreePort();
    http_port_ = testing::PickFreePort();
    std::vector<std::string> args = {absl::StrCat("--grpc_addr=127.0.0.1:", grpc_port_),
                                     absl::StrCat("--http_addr=127.0.0.1:", http_port_),
                                     absl::StrCat("--database_url=", db_.url())};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<testing::ServerProcess>(BOOKING_SERVER_PATH, args);
    ASSERT_TRUE(server_->Start().ok());
    absl::Status serving =
        server_->WaitUntilServing(absl::StrCat("127.0.0.1:", grpc_port_), absl::Seconds(30));
    ASSERT_TRUE(serving.ok()) << serving << server_->ReadLog();
    stub_ = tickets::v1::BookingService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", grpc_port_), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_ != nullptr && server_->running()) {
      absl::StatusOr<int> code = server_->Stop(SIGTERM, absl::Seconds(15));
      EXPECT_TRUE(code.ok() && *code == 0) << server_->ReadLog();
    }
  }
  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", http_port_, path);
  }
  grpc::Status Update(const tickets::v1::UpdateTicketsStatusRequest& request,
                      const std::string& key,
                      const std::vector<std::pair<std::string, std::string>>& metadata = {}) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    context.AddMetadata("idempotency-key", key);
    for (const auto& [name, value] : metadata) context.AddMetadata(name, value);
    tickets::v1::UpdateTicketsStatusResponse response;
    return stub_->UpdateTicketsStatus(&context, request, &response);
  }
  std::map<std::string, double> Scrape() {
    testing::HttpResult page = http_.Call("GET", Url("/metrics"));
    EXPECT_EQ(page.status, 200) << page.body;
    EXPECT_THAT(page.headers["content-type"], HasSubstr("text/plain"));
    return ParseMetrics(page.body);
  }

  testing::TestDatabase db_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<tickets::v1::BookingService::Stub> stub_;
  testing::HttpCaller http_;
  int grpc_port_ = 0;
  int http_port_ = 0;
};

constexpr char kUpdate[] = "/tickets.v1.BookingService/UpdateTicketsStatus";

TEST_F(OperationsE2eTest, MetricsMoveByExactlyWhatAKnownWorkloadDid) {
  StartServer({"--queue_capacity=5000", "--db_pool_size=6"});
  std::map<std::string, double> before = Scrape();

  constexpr int kGrpcCalls = 12, kTicketsPerCall = 2, kRestCalls = 5, kBadCalls = 3;
  for (int i = 0; i < kGrpcCalls; ++i) {
    ASSERT_TRUE(Update(testing::ValidRequest(kTicketsPerCall, "7e000000", i * kTicketsPerCall),
                       absl::StrCat("metrics-", i))
                    .ok());
  }
  for (int i = 0; i < kRestCalls; ++i) {
    const std::string body =
        absl::StrCat(R"({"tickets":[{"ticket_id":"7f000000-0000-4000-8000-00000000000)", i,
                     R"(","status":"confirmed","customer_email":"ann@example.com",)",
                     R"("price":{"amount":"10.00","currency":"EUR"}}]})");
    ASSERT_EQ(http_
                  .Call("POST", Url("/tickets-status"), body,
                        {kJson, absl::StrCat("Idempotency-Key: rest-", i)})
                  .status,
              200);
  }
  tickets::v1::UpdateTicketsStatusRequest bad = testing::ValidRequest(1);
  bad.mutable_tickets(0)->set_ticket_id("not-a-uuid");
  for (int i = 0; i < kBadCalls; ++i) {
    EXPECT_EQ(Update(bad, absl::StrCat("bad-", i)).error_code(), grpc::INVALID_ARGUMENT);
  }

  constexpr int kEvents = kGrpcCalls * kTicketsPerCall + kRestCalls;
  auto delta = [&](const std::map<std::string, double>& after, const std::string& name) {
    auto was = before.find(name);
    auto now = after.find(name);
    return (now == after.end() ? 0 : now->second) - (was == before.end() ? 0 : was->second);
  };
  // Handlers finish after the calls are answered: wait (bounded) for the last deliveries.
  std::map<std::string, double> after;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  do {
    after = Scrape();
    if (delta(after, R"(booking_deliveries_total{handler="AppendToTracker",outcome="success"})") >=
        kEvents) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < deadline);

  EXPECT_EQ(delta(after, absl::StrCat(R"(booking_calls_total{code="OK",method=")", kUpdate,
                                      R"(",protocol="grpc"})")),
            kGrpcCalls);
  EXPECT_EQ(delta(after, absl::StrCat(R"(booking_calls_total{code="OK",method=")", kUpdate,
                                      R"(",protocol="http"})")),
            kRestCalls);
  EXPECT_EQ(delta(after, absl::StrCat(R"(booking_calls_total{code="INVALID_ARGUMENT",method=")",
                                      kUpdate, R"(",protocol="grpc"})")),
            kBadCalls);
  EXPECT_EQ(delta(after, absl::StrCat(R"(booking_call_duration_seconds_count{method=")", kUpdate,
                                      R"(",protocol="grpc"})")),
            kGrpcCalls + kBadCalls);
  EXPECT_EQ(delta(after, R"(booking_events_total{stage="accepted"})"), kEvents);
  EXPECT_EQ(delta(after, R"(booking_events_total{stage="published"})"), kEvents);
  EXPECT_EQ(delta(after, "booking_log_commit_events_sum"), kEvents);
  EXPECT_GE(delta(after, "booking_log_commit_duration_seconds_count"), 1);
  for (const char* handler : {"StoreTickets", "IssueReceipt", "AppendToTracker"}) {
    EXPECT_EQ(delta(after, absl::StrCat(R"(booking_deliveries_total{handler=")", handler,
                                        R"(",outcome="success"})")),
              kEvents)
        << handler;
    EXPECT_GE(delta(after, absl::StrCat(R"(booking_handler_batch_duration_seconds_count{handler=")",
                                        handler, R"("})")),
              1)
        << handler;
  }
  EXPECT_EQ(after["booking_queue_capacity"], 5000);
  EXPECT_EQ(after["booking_queue_depth"], 0);
  EXPECT_EQ(after["booking_db_pool_connections"], 6);
  EXPECT_EQ(after["booking_db_pool_in_use"] + after["booking_db_pool_idle"],
            after["booking_db_pool_connections"]);
}

TEST_F(OperationsE2eTest, AccessLogHasOneLinePerCallWithItsCorrelationId) {
  StartServer({"--log_level=info"});
  ASSERT_TRUE(
      Update(testing::ValidRequest(1, "7a000000"), "log-1", {{"correlation-id", "corr-grpc-1"}})
          .ok());
  const std::string body =
      R"({"tickets":[{"ticket_id":"7b000000-0000-4000-8000-000000000001","status":"confirmed",)"
      R"("customer_email":"ann@example.com","price":{"amount":"10.00","currency":"EUR"}}]})";
  ASSERT_EQ(http_
                .Call("POST", Url("/tickets-status"), body,
                      {kJson, "Idempotency-Key: log-2", "Correlation-ID: corr-http-1"})
                .status,
            200);
  ASSERT_TRUE(server_->Stop(SIGTERM, absl::Seconds(15)).ok());
  const std::string log = server_->ReadLog();
  auto count = [&](const std::string& pattern) {
    const std::regex re(pattern);
    return std::distance(std::sregex_iterator(log.begin(), log.end(), re), std::sregex_iterator());
  };
  EXPECT_EQ(count("call protocol=grpc method=/tickets.v1.BookingService/UpdateTicketsStatus "
                  "code=OK [^\\n]*correlation_id=corr-grpc-1"),
            1)
      << log;
  EXPECT_EQ(count("call protocol=http method=POST path=/tickets-status status=200 "
                  "[^\\n]*correlation_id=corr-http-1"),
            1)
      << log;
  // The REST call is not logged a second time as the gRPC call behind it.
  EXPECT_EQ(count("call protocol=grpc[^\\n]*correlation_id=corr-http-1"), 0) << log;
}

}  // namespace
}  // namespace booking
