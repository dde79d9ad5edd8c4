// A refund only for a ticket sold: a cancellation of a ticket never confirmed is refused
// (FAILED_PRECONDITION, REST 409) with nothing published, against the real binary. A
// confirmation still in the log (StoreTickets has not run) counts, as does a stored ticket;
// --accept_unknown_cancellations takes legacy cancellations as they come.
#include <grpcpp/grpcpp.h>
#include <signal.h>

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
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::e2e {
namespace {

using ::testing::HasSubstr;

grpc::Status Update(testing::BookingServer& server, const std::string& key,
                    const tickets::v1::UpdateTicketsStatusRequest& request,
                    tickets::v1::UpdateTicketsStatusResponse* response = nullptr) {
  auto booking = tickets::v1::BookingService::NewStub(server.channel());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(15)));
  context.AddMetadata("idempotency-key", key);
  tickets::v1::UpdateTicketsStatusResponse ignored;
  return booking->UpdateTicketsStatus(&context, request, response ? response : &ignored);
}

// The request's ticket `i` as a cancellation.
tickets::v1::UpdateTicketsStatusRequest Canceling(tickets::v1::UpdateTicketsStatusRequest request,
                                                  int i) {
  request.mutable_tickets(i)->set_status("canceled");
  return request;
}

google::rpc::PreconditionFailure PreconditionFailureOf(const grpc::Status& status) {
  google::rpc::Status details;
  google::rpc::PreconditionFailure failure;
  EXPECT_TRUE(details.ParseFromString(status.error_details()));
  for (const auto& detail : details.details()) {
    if (detail.UnpackTo(&failure)) return failure;
  }
  ADD_FAILURE() << "no PreconditionFailure in " << status.error_message();
  return failure;
}

class CancellationsE2eTest : public ::testing::Test {
 protected:
  long long Events() const { return db_.Count("events"); }
  long long Refunds(const std::string& ticket) const {
    return db_.Count(absl::StrCat(
        "tracker_rows WHERE sheet = 'tickets-to-refund' AND ticket_id = '", ticket, "'"));
  }
  testing::TestDatabase db_;
};

TEST_F(CancellationsE2eTest, CancelOfATicketNeverSoldIsRefusedAndPublishesNothing) {
  auto server = testing::BookingServer::Start(db_.url());
  const auto request = testing::ValidRequest(3, "c0ffee00");
  const std::string unknown = request.tickets(1).ticket_id();

  // gRPC: the whole call is refused, naming the ticket; its confirmations are not published.
  const grpc::Status refused = Update(*server, "never-sold", Canceling(request, 1));
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  EXPECT_THAT(refused.error_message(),
              HasSubstr(absl::StrCat("tickets[1]: ticket ", unknown, " was never confirmed")));
  const google::rpc::PreconditionFailure failure = PreconditionFailureOf(refused);
  ASSERT_EQ(failure.violations_size(), 1);
  EXPECT_EQ(failure.violations(0).type(), "TICKET_NOT_CONFIRMED");
  EXPECT_EQ(failure.violations(0).subject(), "tickets[1]");
  EXPECT_EQ(Events(), 0);

  // REST: 409 Conflict with the same details, also for the original API's route.
  testing::HttpCaller http;
  const std::string body =
      R"({"tickets":[{"ticket_id":")" + unknown +
      R"(","status":"canceled","customer_email":"ann@example.com","price":{"amount":"1.00","currency":"EUR"}}]})";
  for (const std::string path : {"/v1/tickets-status", "/tickets-status"}) {
    const testing::HttpResult answer =
        http.Call("POST", server->url(path), body,
                  {"Content-Type: application/json", "Idempotency-Key: rest-" + path});
    EXPECT_EQ(answer.status, 409) << path << ": " << answer.body;
    EXPECT_THAT(answer.body, HasSubstr("TICKET_NOT_CONFIRMED")) << path;
    EXPECT_THAT(answer.body, HasSubstr(R"("subject":"tickets[0]")")) << path;
  }
  EXPECT_EQ(Events(), 0);
  EXPECT_EQ(db_.Count("tickets"), 0);

  // Two unknown cancellations: both named in one answer.
  const grpc::Status both = Update(*server, "two-unknown", Canceling(Canceling(request, 0), 2));
  ASSERT_EQ(both.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(PreconditionFailureOf(both).violations_size(), 2);
  EXPECT_THAT(both.error_message(), HasSubstr("tickets[0]"));
  EXPECT_THAT(both.error_message(), HasSubstr("tickets[2]"));

  EXPECT_EQ(Events(), 0);
}

TEST_F(CancellationsE2eTest, ConfirmationStillInTheLogCountsAndIsRefundedOnce) {
  // API only: StoreTickets never runs, so the confirmation is in the log and nowhere else.
  auto api = testing::BookingServer::Start(db_.url(), {"--role=api"});
  auto sold = testing::ValidRequest(1, "c0ffee02");
  ASSERT_TRUE(Update(*api, "sale", sold).ok());
  EXPECT_EQ(db_.Count("tickets"), 0);
  tickets::v1::UpdateTicketsStatusResponse response;
  const grpc::Status canceled = Update(*api, "refund", Canceling(sold, 0), &response);
  ASSERT_TRUE(canceled.ok()) << canceled.error_message();
  EXPECT_EQ(response.accepted_events(), 1);

  // A retry of the refund is a replay, not a refusal and not a second refund.
  ASSERT_TRUE(Update(*api, "refund", Canceling(sold, 0), &response).ok());
  EXPECT_EQ(response.accepted_events(), 1);
  EXPECT_EQ(Events(), 2);

  // The handlers, in a worker: each ticket stored canceled and refunded once.
  auto worker = testing::BookingServer::Start(db_.url(), {"--role=worker"});
  for (const std::string& ticket : {sold.tickets(0).ticket_id()}) {
    EXPECT_TRUE(testing::Eventually([&] { return Refunds(ticket) == 1; }, absl::Seconds(30)))
        << ticket << ": " << Refunds(ticket) << " refunds";
    EXPECT_TRUE(testing::Eventually(
        [&] {
          return db_.QueryValue(absl::StrCat("SELECT status FROM tickets WHERE ticket_id = '",
                                             ticket, "'")) == "canceled";
        },
        absl::Seconds(30)));
  }
  // Stored, the ticket is still known once its events are gone from the log (pruned).
  worker.reset();
  db_.Exec("TRUNCATE step_batches, deliveries, dead_letters, events CASCADE");
  EXPECT_EQ(Events(), 0);
  EXPECT_TRUE(Update(*api, "refund-again", Canceling(sold, 0)).ok());
  EXPECT_EQ(Events(), 1);
}

TEST_F(CancellationsE2eTest, LegacyCancellationsAreAcceptedWhenAskedFor) {
  auto server = testing::BookingServer::Start(db_.url(), {"--accept_unknown_cancellations"});
  const auto legacy = Canceling(testing::ValidRequest(1, "c0ffee04"), 0);
  tickets::v1::UpdateTicketsStatusResponse response;
  const grpc::Status accepted = Update(*server, "legacy", legacy, &response);
  ASSERT_TRUE(accepted.ok()) << accepted.error_message();
  EXPECT_EQ(response.accepted_events(), 1);
  EXPECT_TRUE(testing::Eventually([&] { return Refunds(legacy.tickets(0).ticket_id()) == 1; },
                                  absl::Seconds(30)));
}

}  // namespace
}  // namespace booking::e2e
