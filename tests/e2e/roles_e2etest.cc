// --role: API instances accept calls and append events, workers run the handlers; any mix on one
// database does the work of one process, and a worker killed mid-batch loses nothing.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_external_apis.h"
#include "tests/support/bad_requests.h"
#include "tests/support/booking_server.h"
#include "tests/support/eventually.h"
#include "tests/support/http_call.h"
#include "tests/support/load.h"
#include "tests/support/test_database.h"
#include "tickets/v1/admin.grpc.pb.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::e2e {
namespace {

using testing::Eventually;
constexpr auto& Column = testing::ColumnValues;
using ::testing::HasSubstr;

// Short leases and retries: a killed worker's partitions move within seconds.
std::unique_ptr<testing::BookingServer> Start(const std::string& url, testing::ServerFlags extra) {
  testing::ServerFlags flags = {"--delivery_lease=2s", "--retry_first_delay=50ms",
                                "--retry_max_delay=500ms"};
  return testing::BookingServer::Start(url, flags.Set(extra));
}

grpc::Status Update(const std::string& target, const std::string& key,
                    const tickets::v1::UpdateTicketsStatusRequest& request,
                    tickets::v1::UpdateTicketsStatusResponse& response) {
  auto booking = tickets::v1::BookingService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  context.AddMetadata("idempotency-key", key);
  return booking->UpdateTicketsStatus(&context, request, &response);
}

tickets::v1::GetHandlerStatusResponse Status(const std::string& target) {
  auto admin = tickets::v1::AdminService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  tickets::v1::GetHandlerStatusResponse response;
  EXPECT_TRUE(admin->GetHandlerStatus(&context, {}, &response).ok());
  return response;
}

TEST(RolesE2eTest, ApiInstanceAcceptsAndTwoWorkersHandleThroughAKill) {
  testing::TestDatabase db;
  testing::FakeExternalApis receipts;
  receipts.set_answer_delay(absl::Milliseconds(20));  // batches are in flight when one is killed
  auto api = Start(db.url(), {"--role=api", "--instance_id=api"});
  const testing::ServerFlags worker_flags = {"--role=worker", "--receipts_url=" + receipts.url()};
  auto worker_a = Start(db.url(), [&] {
    auto flags = worker_flags;
    flags.Set("--instance_id=worker-a");
    return flags;
  }());
  auto worker_b = Start(db.url(), [&] {
    auto flags = worker_flags;
    flags.Set("--instance_id=worker-b");
    return flags;
  }());

  // The workers share the partitions; the API instance takes none.
  ASSERT_TRUE(Eventually([&] {
    return Status(worker_a->target()).partitions_held() == 8 &&
           Status(worker_b->target()).partitions_held() == 8;
  })) << Status(worker_a->target()).partitions_held()
      << " " << Status(worker_b->target()).partitions_held();
  EXPECT_EQ(Status(api->target()).partitions_held(), 0);
  EXPECT_EQ(db.Count("partition_leases WHERE owner = 'api'"), 0);
  // A worker serves no BookingService.
  tickets::v1::UpdateTicketsStatusResponse refused;
  EXPECT_EQ(
      Update(worker_a->target(), "to-a-worker", testing::ValidRequest(1), refused).error_code(),
      grpc::StatusCode::UNIMPLEMENTED);

  std::set<std::string> acknowledged;
  {
    testing::Load load({api->target()}, 4, "d0000001");
    ASSERT_TRUE(Eventually([&] { return receipts.receipts_by_key().size() >= 200; }));
    ASSERT_TRUE(worker_a->Kill().ok());
    const size_t at_kill = load.acknowledged().size();
    ASSERT_TRUE(Eventually([&] { return load.acknowledged().size() >= at_kill + 300; }));
    load.Stop();
    acknowledged = load.acknowledged();
    EXPECT_EQ(load.codes().size(), 1u) << "the API instance answered every call OK";
  }

  // Every acknowledged ticket stored, tracked and receipted exactly once, by the survivor.
  ASSERT_TRUE(Eventually([&] { return db.Count("pending_deliveries") == 0; }, absl::Seconds(90)))
      << db.Count("pending_deliveries") << " unfinished";
  const std::set<std::string> stored = Column(db.url(), "SELECT ticket_id::text FROM tickets");
  const std::set<std::string> tracked =
      Column(db.url(), "SELECT ticket_id::text FROM tracker_rows");
  const std::map<std::string, std::string> issued = receipts.receipts_by_key();
  EXPECT_EQ(issued.size(), acknowledged.size()) << "one receipt per ticket";
  std::map<std::string, int> receipts_per_ticket;
  for (const auto& [key, number] : issued) {
    for (const std::string& id : acknowledged) {
      if (key.find(id) != std::string::npos) ++receipts_per_ticket[id];
    }
  }
  for (const std::string& id : acknowledged) {
    EXPECT_TRUE(stored.count(id)) << id << " not stored";
    EXPECT_TRUE(tracked.count(id)) << id << " not tracked";
    EXPECT_EQ(receipts_per_ticket[id], 1) << id;
  }
  EXPECT_EQ(
      db.Count("(SELECT 1 FROM tracker_rows GROUP BY sheet, ticket_id HAVING count(*) > 1) d"), 0);
  EXPECT_EQ(db.Count("dead_letters"), 0);
  EXPECT_EQ(Status(worker_b->target()).partitions_held(), 16)
      << "the survivor took the dead one's share";
  EXPECT_THAT(api->log(), HasSubstr("role=api"));
  EXPECT_THAT(worker_b->log(), HasSubstr("role=worker"));
}

// An API instance alone accepts calls and makes them durable; nothing is handled until a worker
// comes. It registers the handlers, so their lag shows and a worker placed at `latest` still
// handles what the API accepted before it came.
TEST(RolesE2eTest, ApiAloneKeepsEventsUntilAWorkerComes) {
  testing::TestDatabase db;
  auto api = Start(db.url(), {"--role=api"});
  tickets::v1::UpdateTicketsStatusResponse response;
  ASSERT_TRUE(
      Update(api->target(), "api-alone", testing::ValidRequest(20, "d0000002"), response).ok());
  EXPECT_EQ(response.accepted_events(), 20);
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(db.Count("tickets"), 0) << "an API instance runs no handler";
  EXPECT_EQ(db.Count("events"), 20);
  ASSERT_TRUE(Eventually([&] {
    const tickets::v1::GetHandlerStatusResponse status = Status(api->target());
    return status.handlers_size() == 5 && status.handlers(0).lag() == 20;
  })) << Status(api->target()).DebugString();

  auto worker = Start(db.url(), {
                                    "--role=worker",
                                    "--new_handler_start=latest",
                                });
  ASSERT_TRUE(Eventually([&] { return db.Count("tickets") == 20 && db.Count("receipts") == 20; }));
  ASSERT_TRUE(Eventually([&] {
    const tickets::v1::GetHandlerStatusResponse status = Status(worker->target());
    if (status.handlers_size() != 5) return false;
    for (const auto& handler : status.handlers()) {
      if (handler.lag() != 0) return false;
    }
    return true;
  })) << Status(worker->target()).DebugString();

  // A worker's HTTP port: health, metrics and the admin API for operators and probes; the
  // booking routes are not there.
  testing::HttpCaller http;
  const std::string base = worker->url();
  EXPECT_EQ(http.Call("GET", base + "/health").status, 200);
  testing::HttpResult metrics = http.Call("GET", base + "/metrics");
  EXPECT_THAT(metrics.body, HasSubstr(R"(booking_handler_lag_events{handler="StoreTickets"} 0)"));
  EXPECT_EQ(http.Call("GET", base + "/v1/admin/handlers").status, 200);
  EXPECT_EQ(http.Call("POST", base + "/v1/tickets-status", "{}").status, 404);
}

}  // namespace
}  // namespace booking::e2e
