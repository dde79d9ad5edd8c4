// A handler added to a service whose log already holds events: it backfills from the earliest
// event, or starts at the end (--new_handler_start, --handler_start); ReplayHandler runs a
// handler again over a range without doubling its effects.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <iostream>
#include <map>
#include <pqxx/pqxx>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_external_apis.h"
#include "tests/support/bad_requests.h"
#include "tests/support/booking_server.h"
#include "tests/support/eventually.h"
#include "tests/support/http_call.h"
#include "tests/support/test_database.h"
#include "tickets/v1/admin.grpc.pb.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::e2e {
namespace {

using testing::Eventually;
using ::testing::HasSubstr;

constexpr int kSeeded = 10'000;
constexpr char kAuditSheet[] = "ticket-audit";

class BackfillE2eTest : public ::testing::Test {
 protected:
  void StartServer(testing::ServerFlags extra) {
    testing::ServerFlags flags = {"--instance_id=backfill"};
    server_ = testing::BookingServer::Start(db_.url(), flags.Set(extra));
    ASSERT_TRUE(server_->ready());
  }

  void StopServer() {
    const absl::Status stopped = server_->Stop();
    EXPECT_TRUE(stopped.ok()) << stopped << server_->log();
  }

  // `count` confirmed tickets in calls of 1000, prefixed `prefix`.
  void Send(int count, const std::string& prefix) {
    auto booking = tickets::v1::BookingService::NewStub(server_->channel());
    for (int first = 0; first < count; first += 1000) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
      context.AddMetadata("idempotency-key", absl::StrCat(prefix, "-", first));
      tickets::v1::UpdateTicketsStatusResponse response;
      grpc::Status status = booking->UpdateTicketsStatus(
          &context, testing::ValidRequest(std::min(1000, count - first), prefix, first), &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
  }

  // A log of kSeeded events that every handler of today has finished (local tables).
  void Seed() {
    StartServer({});
    Send(kSeeded, "e0000001");
    ASSERT_TRUE(Eventually([&] { return db_.Count("pending_deliveries") == 0; }, absl::Minutes(3)));
    ASSERT_EQ(db_.Count("events"), kSeeded);
    StopServer();
  }

  tickets::v1::HandlerStatus HandlerStatus(const std::string& name) {
    auto admin = tickets::v1::AdminService::NewStub(server_->channel());
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    tickets::v1::GetHandlerStatusResponse response;
    EXPECT_TRUE(admin->GetHandlerStatus(&context, {}, &response).ok());
    for (const auto& handler : response.handlers()) {
      if (handler.handler() == name) return handler;
    }
    ADD_FAILURE() << name << " not in " << response.DebugString();
    return {};
  }

  // Rows per ticket id on `sheet` of the fake spreadsheets API.
  std::map<std::string, int> RowsPerTicket(const std::string& sheet) {
    std::map<std::string, int> rows;
    for (const auto& row : apis_.rows(sheet)) ++rows[row.at(0)];
    return rows;
  }

  testing::TestDatabase db_;
  testing::FakeExternalApis apis_;
  std::unique_ptr<testing::BookingServer> server_;
};

TEST_F(BackfillE2eTest, NewHandlerCatchesUpFromTheEarliestEventOnce) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  const absl::Time start = absl::Now();
  StartServer({absl::StrCat("--audit_sheet=", kAuditSheet), "--spreadsheets_url=" + apis_.url()});
  ASSERT_TRUE(Eventually([&] { return apis_.rows(kAuditSheet).size() >= size_t{kSeeded}; },
                         absl::Minutes(3)))
      << apis_.rows(kAuditSheet).size() << " rows";
  // A figure for the README, not a bound: the machines are shared.
  std::cout << "backfill: " << kSeeded << " events handled in "
            << absl::FormatDuration(absl::Now() - start) << " (start-up included)\n";
  ASSERT_TRUE(Eventually([&] { return HandlerStatus("AppendToAudit").lag() == 0; }))
      << HandlerStatus("AppendToAudit").DebugString();
  const std::map<std::string, int> rows = RowsPerTicket(kAuditSheet);
  EXPECT_EQ(rows.size(), size_t{kSeeded}) << "every event seen";
  for (const auto& [ticket, count] : rows) EXPECT_EQ(count, 1) << ticket << " seen twice";
  EXPECT_EQ(HandlerStatus("AppendToAudit").succeeded(), kSeeded);
  // The handlers that were there already did nothing again.
  EXPECT_TRUE(apis_.rows("tickets-to-print").empty());
  EXPECT_EQ(HandlerStatus("StoreTickets").succeeded(), 0);
  EXPECT_THAT(server_->log(), HasSubstr("handler registered handler=AppendToAudit"));
  // Its lag was on the metrics page while it caught up, and is 0 now.
  testing::HttpCaller http;
  testing::HttpResult metrics = http.Call("GET", server_->url("/metrics"), "", {});
  EXPECT_THAT(metrics.body, HasSubstr(R"(booking_handler_lag_events{handler="AppendToAudit"} 0)"));
}

TEST_F(BackfillE2eTest, NewHandlerPlacedAtLatestSkipsTheOldEvents) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  StartServer({absl::StrCat("--audit_sheet=", kAuditSheet), "--spreadsheets_url=" + apis_.url(),
               "--new_handler_start=earliest", "--handler_start=AppendToAudit=latest"});
  Send(3, "e0000002");
  ASSERT_TRUE(Eventually([&] { return apis_.rows(kAuditSheet).size() >= 3; }));
  absl::SleepFor(absl::Seconds(1));  // time for anything more to arrive
  const std::map<std::string, int> rows = RowsPerTicket(kAuditSheet);
  EXPECT_EQ(rows.size(), 3u) << "only events appended after it was registered";
  for (const auto& [ticket, count] : rows) EXPECT_THAT(ticket, HasSubstr("e0000002"));
  ASSERT_TRUE(Eventually([&] { return HandlerStatus("AppendToAudit").lag() == 0; }));
}

// ReplayHandler: receipts for a range issued again; the receipts API's idempotency keys make the
// replay a no-op for receipts that exist (200, same number), so none is doubled.
TEST_F(BackfillE2eTest, ReplayRunsAHandlerAgainOverARangeWithoutDoubling) {
  StartServer({"--receipts_url=" + apis_.url()});
  Send(100, "e0000003");
  ASSERT_TRUE(Eventually([&] { return db_.Count("pending_deliveries") == 0; }));
  ASSERT_EQ(apis_.receipts_by_key().size(), 100u);
  const size_t calls_before = apis_.requests_to("/receipts").size();
  // The 41st to the 60th event, by sequence.
  const int64_t min_sequence = [&] {
    pqxx::connection conn(db_.url());
    pqxx::nontransaction txn(conn);
    return txn.exec1("SELECT min(sequence) FROM events")[0].as<int64_t>();
  }();
  auto admin = tickets::v1::AdminService::NewStub(server_->channel());
  tickets::v1::ReplayHandlerRequest request;
  request.set_handler("IssueReceipt");
  request.set_from_sequence(min_sequence + 40);
  request.set_to_sequence(min_sequence + 59);
  tickets::v1::ReplayHandlerResponse response;
  {
    grpc::ClientContext context;
    grpc::Status status = admin->ReplayHandler(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(response.replayed(), 20);
  EXPECT_EQ(response.event_type(), "tickets.v1.TicketBookingConfirmed");
  ASSERT_TRUE(Eventually([&] {
    return apis_.requests_to("/receipts").size() == calls_before + 20 &&
           db_.Count("pending_deliveries") == 0;
  })) << apis_.requests_to("/receipts").size() - calls_before;
  EXPECT_EQ(apis_.receipts_by_key().size(), 100u) << "no receipt doubled";
  EXPECT_EQ(HandlerStatus("IssueReceipt").redelivered(), 20);

  // Over REST, as an operator would; bad ranges name the field; unknown handlers are 404.
  testing::HttpCaller http;
  const std::string base = server_->url("/v1/admin/handlers/");
  testing::HttpResult replay =
      http.Call("POST", base + "IssueReceipt:replay",
                absl::StrCat(R"({"fromSequence":")", min_sequence + 90, R"("})"), {});
  EXPECT_EQ(replay.status, 200) << replay.body;
  EXPECT_THAT(replay.body, HasSubstr(R"("replayed":"10")"));
  testing::HttpResult backwards = http.Call("POST", base + "IssueReceipt:replay",
                                            R"({"fromSequence":"9","toSequence":"3"})", {});
  EXPECT_EQ(backwards.status, 400) << backwards.body;
  EXPECT_THAT(backwards.body, HasSubstr(R"("field":"to_sequence")"));
  testing::HttpResult no_start = http.Call("POST", base + "IssueReceipt:replay", "{}", {});
  EXPECT_EQ(no_start.status, 400) << no_start.body;
  EXPECT_THAT(no_start.body, HasSubstr("from_sequence"));
  testing::HttpResult unknown =
      http.Call("POST", base + "Nobody:replay", R"({"fromSequence":"1"})", {});
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_THAT(unknown.body, HasSubstr("Nobody"));
  ASSERT_TRUE(Eventually([&] { return db_.Count("pending_deliveries") == 0; }));
  EXPECT_EQ(apis_.receipts_by_key().size(), 100u);
}

}  // namespace
}  // namespace booking::e2e
