// A handler removed from the configuration (issue 24): the server restarted without
// --audit_sheet leaves AppendToAudit registered, which holds back pruning and COMPLETED waits
// and says so at start-up; RetireHandler lets both go on; a server configured with it again
// un-retires it, and it goes on from its checkpoints over the events still in the log.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tests/support/bad_requests.h"
#include "tests/support/booking_server.h"
#include "tests/support/eventually.h"
#include "tests/support/http_call.h"
#include "tests/support/test_database.h"
#include "tickets/v1/admin.grpc.pb.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::e2e {
namespace {

using ::testing::Contains;
using testing::Eventually;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAuditSheet[] = "ticket-audit";
constexpr char kAuditRows[] = "tracker_rows WHERE sheet = 'ticket-audit'";

class RetiredHandlerE2eTest : public ::testing::Test {
 protected:
  void StartServer(bool audit) {
    testing::ServerFlags flags = {"--instance_id=retire", "--prune_interval=200ms",
                                  "--max_wait=5s"};
    if (audit) flags.Set("audit_sheet", kAuditSheet);
    server_ = testing::BookingServer::Start(db_.url(), flags);
    ASSERT_TRUE(server_->ready());
    admin_ = tickets::v1::AdminService::NewStub(server_->channel());
  }

  void StopServer() {
    admin_.reset();
    const absl::Status stopped = server_->Stop();
    EXPECT_TRUE(stopped.ok()) << stopped << server_->log();
  }

  // `count` confirmed tickets in one call that waits for COMPLETED (at most --max_wait: long
  // enough for a loaded machine, short enough for the wait that cannot succeed).
  tickets::v1::UpdateTicketsStatusResponse SendCompleted(int count, const std::string& prefix) {
    auto booking = tickets::v1::BookingService::NewStub(server_->channel());
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    context.AddMetadata("idempotency-key", prefix);
    tickets::v1::UpdateTicketsStatusRequest request = testing::ValidRequest(count, prefix);
    request.set_consistency(tickets::v1::UpdateTicketsStatusRequest::COMPLETED);
    tickets::v1::UpdateTicketsStatusResponse response;
    grpc::Status status = booking->UpdateTicketsStatus(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  tickets::v1::HandlerStatus HandlerStatus(const std::string& name) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    tickets::v1::GetHandlerStatusResponse response;
    EXPECT_TRUE(admin_->GetHandlerStatus(&context, {}, &response).ok());
    for (const auto& handler : response.handlers()) {
      if (handler.handler() == name) return handler;
    }
    ADD_FAILURE() << name << " not in " << response.DebugString();
    return {};
  }

  grpc::Status Retire(const std::string& handler, tickets::v1::RetireHandlerResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    tickets::v1::RetireHandlerRequest request;
    request.set_handler(handler);
    return admin_->RetireHandler(&context, request, response);
  }

  // Every event now past --event_retention (7 days): only what every handler that counts has
  // finished may go.
  void AgeEvents() { db_.Exec("UPDATE events SET published_at = now() - interval '8 days'"); }

  testing::TestDatabase db_;
  std::unique_ptr<testing::BookingServer> server_;
  std::unique_ptr<tickets::v1::AdminService::Stub> admin_;
};

TEST_F(RetiredHandlerE2eTest, RemovedHandlerBlocksPruningAndCompletedUntilRetired) {
  // With --audit_sheet: AppendToAudit registers and handles the first 5 tickets.
  ASSERT_NO_FATAL_FAILURE(StartServer(/*audit=*/true));
  EXPECT_TRUE(SendCompleted(5, "e1000001").consistency_reached());
  EXPECT_EQ(db_.Count(kAuditRows), 5);
  ASSERT_NO_FATAL_FAILURE(StopServer());

  // Without it: the start-up warns, COMPLETED is never reached, pruning stops at its events.
  ASSERT_NO_FATAL_FAILURE(StartServer(/*audit=*/false));
  EXPECT_THAT(server_->log(),
              HasSubstr("handler registered but not configured here holds back pruning and "
                        "COMPLETED; retire it with AdminService.RetireHandler (POST "
                        "/v1/admin/handlers/AppendToAudit:retire)"));
  const tickets::v1::UpdateTicketsStatusResponse blocked = SendCompleted(3, "e1000002");
  EXPECT_FALSE(blocked.consistency_reached());
  ASSERT_EQ(blocked.progress_size(), 3);
  EXPECT_THAT(blocked.progress(0).pending_handlers(), Contains("AppendToAudit"));
  EXPECT_THAT(blocked.progress(0).finished_handlers(), Contains("StoreTickets"));
  ASSERT_TRUE(Eventually([&] { return HandlerStatus("AppendToAudit").lag() == 3; }))
      << HandlerStatus("AppendToAudit").DebugString();
  EXPECT_FALSE(HandlerStatus("AppendToAudit").configured());
  EXPECT_FALSE(HandlerStatus("AppendToAudit").retired());
  EXPECT_TRUE(HandlerStatus("StoreTickets").configured());
  AgeEvents();
  ASSERT_TRUE(Eventually([&] { return db_.Count("events") == 3; }, absl::Seconds(20)))
      << "the 5 events every handler finished are pruned: " << db_.Count("events");
  absl::SleepFor(absl::Seconds(1));  // five more pruner rounds
  EXPECT_EQ(db_.Count("events"), 3) << "AppendToAudit's 3 stay";
  EXPECT_EQ(db_.Count("pending_deliveries"), 3);

  // Retire: refused for a handler configured here and for one never registered, then done over
  // REST as an operator would.
  tickets::v1::RetireHandlerResponse response;
  grpc::Status configured = Retire("StoreTickets", &response);
  EXPECT_EQ(configured.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(configured.error_message(), HasSubstr("configured on this instance"));
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(configured.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::PreconditionFailure failure;
  ASSERT_TRUE(details.details(0).UnpackTo(&failure));
  ASSERT_EQ(failure.violations_size(), 1);
  EXPECT_EQ(failure.violations(0).type(), "HANDLER_CONFIGURED");
  EXPECT_EQ(failure.violations(0).subject(), "StoreTickets");
  EXPECT_EQ(Retire("Nobody", &response).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status unnamed = Retire("", &response);
  EXPECT_EQ(unnamed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(details.ParseFromString(unnamed.error_details()));
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details(0).UnpackTo(&bad_request));
  ASSERT_EQ(bad_request.field_violations_size(), 1);
  EXPECT_EQ(bad_request.field_violations(0).field(), "handler");

  testing::HttpCaller http;
  testing::HttpResult retired =
      http.Call("POST", server_->url("/v1/admin/handlers/AppendToAudit:retire"), "{}", {});
  EXPECT_EQ(retired.status, 200) << retired.body;
  EXPECT_THAT(retired.body, HasSubstr(R"("handler":"AppendToAudit")"));
  EXPECT_THAT(retired.body, HasSubstr(R"("retired_at":")"));
  EXPECT_THAT(server_->log(), HasSubstr("handler retired"));

  // Retired: pruning goes on, COMPLETED is reached, no lag.
  ASSERT_TRUE(Eventually([&] { return db_.Count("events") == 0; }, absl::Seconds(20)))
      << db_.Count("events");
  EXPECT_EQ(db_.Count("pending_deliveries"), 0);
  ASSERT_TRUE(Eventually([&] { return HandlerStatus("AppendToAudit").retired(); }));
  EXPECT_EQ(HandlerStatus("AppendToAudit").lag(), 0);
  EXPECT_TRUE(HandlerStatus("AppendToAudit").has_retired_at());
  const tickets::v1::UpdateTicketsStatusResponse completed = SendCompleted(2, "e1000003");
  EXPECT_TRUE(completed.consistency_reached());
  ASSERT_EQ(completed.progress_size(), 2);
  EXPECT_THAT(completed.progress(0).pending_handlers(), Not(Contains("AppendToAudit")));
  ASSERT_NO_FATAL_FAILURE(StopServer());

  // Configured again: un-retired, it goes on from its checkpoints over the 2 events still in
  // the log; the 3 pruned while it was away are gone for it.
  ASSERT_NO_FATAL_FAILURE(StartServer(/*audit=*/true));
  EXPECT_THAT(server_->log(), HasSubstr("retired handler configured here again: un-retired"));
  EXPECT_THAT(server_->log(), Not(HasSubstr("handler registered but not configured here")));
  ASSERT_TRUE(Eventually([&] { return db_.Count(kAuditRows) == 7; })) << db_.Count(kAuditRows);
  ASSERT_TRUE(Eventually([&] { return HandlerStatus("AppendToAudit").lag() == 0; }));
  EXPECT_TRUE(HandlerStatus("AppendToAudit").configured());
  EXPECT_FALSE(HandlerStatus("AppendToAudit").retired());
  EXPECT_TRUE(SendCompleted(1, "e1000004").consistency_reached());
  EXPECT_TRUE(Eventually([&] { return db_.Count(kAuditRows) == 8; })) << db_.Count(kAuditRows);
}

}  // namespace
}  // namespace booking::e2e
