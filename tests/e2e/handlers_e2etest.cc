// End to end with every handler: the real binary against the fake receipts and spreadsheets
// services (real HTTP servers in this process), or against its local tables.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_external_apis.h"
#include "tests/support/bad_requests.h"
#include "tests/support/booking_server.h"
#include "tests/support/eventually.h"
#include "tests/support/test_database.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::e2e {
namespace {

using ::testing::ElementsAre;
using testing::FakeExternalApis;
using testing::ValidRequest;

constexpr char kTicket[] = "a1000000-0b7d-4e2a-9c11-000000000000";

class HandlersE2eTest : public ::testing::Test {
 protected:
  // Starts the server; with `use_fakes`, against the fakes.
  void StartServer(bool use_fakes, testing::ServerFlags extra = {}) {
    testing::ServerFlags flags = {"--http_timeout=500ms"};
    if (use_fakes) {
      flags.Set("receipts_url", receipts_.url());
      flags.Set("spreadsheets_url", sheets_.url());
    }
    server_ = testing::BookingServer::Start(db_.url(), flags.Set(extra));
    ASSERT_TRUE(server_->ready());
    stub_ = tickets::v1::BookingService::NewStub(server_->channel());
  }

  grpc::Status TrySend(const std::string& status, const std::string& key,
                       const std::string& correlation_id = "") {
    tickets::v1::UpdateTicketsStatusRequest request = ValidRequest(1, "a1000000");
    request.mutable_tickets(0)->set_status(status);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    context.AddMetadata("idempotency-key", key);
    if (!correlation_id.empty()) context.AddMetadata("correlation-id", correlation_id);
    tickets::v1::UpdateTicketsStatusResponse response;
    return stub_->UpdateTicketsStatus(&context, request, &response);
  }
  void Send(const std::string& status, const std::string& key,
            const std::string& correlation_id = "") {
    grpc::Status result = TrySend(status, key, correlation_id);
    ASSERT_TRUE(result.ok()) << result.error_message();
  }

  static bool Eventually(const std::function<bool()>& probe) {
    return testing::Eventually(probe, absl::Seconds(30));
  }

  std::vector<std::string> ListedIds() {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    tickets::v1::ListTicketsResponse response;
    EXPECT_TRUE(stub_->ListTickets(&context, {}, &response).ok());
    std::vector<std::string> ids;
    for (const auto& ticket : response.tickets()) ids.push_back(ticket.ticket_id());
    return ids;
  }

  testing::TestDatabase db_;
  FakeExternalApis receipts_;
  FakeExternalApis sheets_;
  std::unique_ptr<testing::BookingServer> server_;
  std::unique_ptr<tickets::v1::BookingService::Stub> stub_;
};

TEST_F(HandlersE2eTest, ConfirmThenCancelThroughTheExternalApis) {
  StartServer(/*use_fakes=*/true);
  Send("confirmed", "office-1", "corr-confirm");
  ASSERT_TRUE(Eventually([&] {
    return db_.Count("tickets") == 1 && receipts_.requests().size() == 1 &&
           sheets_.rows("tickets-to-print").size() == 1;
  })) << server_->log();

  std::vector<testing::RecordedRequest> receipt_calls = receipts_.requests();
  EXPECT_EQ(receipt_calls[0].method, "PUT");
  EXPECT_EQ(receipt_calls[0].target, "/receipts");
  EXPECT_EQ(receipt_calls[0].headers["correlation-id"], "corr-confirm");
  EXPECT_THAT(receipt_calls[0].body,
              ::testing::HasSubstr(absl::StrCat(R"("idempotency_key":"office-1/)", kTicket)));
  EXPECT_THAT(sheets_.rows("tickets-to-print"),
              ElementsAre(ElementsAre(kTicket, "ann@example.com", "49.90", "EUR")));
  EXPECT_THAT(ListedIds(), ElementsAre(kTicket));

  Send("canceled", "office-2", "corr-cancel");
  ASSERT_TRUE(Eventually([&] { return sheets_.rows("tickets-to-refund").size() == 1; }));
  EXPECT_TRUE(Eventually([&] { return ListedIds().empty(); }));
  EXPECT_THAT(sheets_.rows("tickets-to-refund"),
              ElementsAre(ElementsAre(kTicket, "ann@example.com", "49.90", "EUR")));
  EXPECT_EQ(sheets_.requests_to("/sheets/tickets-to-refund").at(0).headers["correlation-id"],
            "corr-cancel");
  // Nothing more went to the receipts API, and nothing was written to the local tables.
  EXPECT_EQ(receipts_.requests().size(), 1u);
  EXPECT_EQ(db_.Count("receipts"), 0);
  EXPECT_EQ(db_.Count("tracker_rows"), 0);
}

TEST_F(HandlersE2eTest, WithoutUrlsTheLocalTablesAreFilled) {
  StartServer(/*use_fakes=*/false);
  Send("confirmed", "office-1");
  ASSERT_TRUE(Eventually([&] {
    return db_.Count("receipts") == 1 && db_.Count("tracker_rows") == 1 &&
           db_.Count("tickets") == 1;
  })) << server_->log();
  EXPECT_EQ(db_.QueryValue("SELECT idempotency_key FROM receipts"),
            absl::StrCat("office-1/", kTicket));
  Send("canceled", "office-2");
  ASSERT_TRUE(
      Eventually([&] { return db_.Count("tracker_rows WHERE sheet = 'tickets-to-refund'") == 1; }));
  EXPECT_EQ(db_.Count("tracker_rows WHERE sheet = 'tickets-to-print'"), 1);
  EXPECT_EQ(db_.QueryValue("SELECT status FROM tickets"), "canceled");
  EXPECT_TRUE(receipts_.requests().empty());
  EXPECT_TRUE(sheets_.requests().empty());
}

// Handlers are independent: receipts failing does not keep tickets from the table, nor rows from
// the tracker.
TEST_F(HandlersE2eTest, FailingReceiptsApiDoesNotStopTheOthers) {
  receipts_.FailNext(1000, testing::Fault::kStatus500);
  StartServer(/*use_fakes=*/true);
  Send("confirmed", "office-1");
  EXPECT_TRUE(Eventually([&] {
    return db_.Count("tickets") == 1 && sheets_.rows("tickets-to-print").size() == 1;
  })) << server_->log();
  EXPECT_TRUE(Eventually([&] { return !receipts_.requests().empty(); }));
  EXPECT_TRUE(receipts_.receipts_by_key().empty());
  EXPECT_TRUE(Eventually([&] {
    return server_->log().find("handler=IssueReceipt") != std::string::npos;
  })) << "the failure is logged";
}

// An API's error text goes into the log (and dead_letters.reason) as one escaped value: quotes,
// a newline and `key=value` pairs in it forge no field of the JSON log.
TEST_F(HandlersE2eTest, HostileApiErrorTextStaysOneLogField) {
  receipts_.FailNext(1, testing::Fault::kHostile400);  // 400: dead-lettered at once
  StartServer(/*use_fakes=*/true, {"--log_format=json"});
  Send("confirmed", "office-hostile");
  ASSERT_TRUE(Eventually([&] { return db_.Count("dead_letters") == 1; })) << server_->log();
  server_->Stop().IgnoreError();
  std::istringstream lines(server_->log());
  int dead_letter_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    google::protobuf::Struct record;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &record).ok()) << line;
    EXPECT_FALSE(record.fields().contains("forged")) << line;
    EXPECT_FALSE(record.fields().contains("injected")) << line;
    auto message = record.fields().find("message");
    if (message == record.fields().end() || message->second.string_value() != "dead letter") {
      continue;
    }
    ++dead_letter_lines;
    ASSERT_TRUE(record.fields().contains("error")) << line;
    EXPECT_THAT(record.fields().at("error").string_value(),
                ::testing::HasSubstr(testing::kHostileBody));
    EXPECT_EQ(record.fields().at("level").string_value(), "warning") << line;
  }
  EXPECT_EQ(dead_letter_lines, 1) << server_->log();
}

TEST_F(HandlersE2eTest, CancelBeforeAnyConfirmationIsRefused) {
  StartServer(/*use_fakes=*/false);
  EXPECT_EQ(TrySend("canceled", "k1").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  Send("confirmed", "k2");
  ASSERT_TRUE(Eventually([&] { return db_.Count("tracker_rows") == 1; })) << server_->log();
  EXPECT_EQ(db_.Count("tracker_rows WHERE sheet = 'tickets-to-refund'"), 0);
  EXPECT_EQ(db_.Count("events"), 1) << "the refused cancellation published nothing";
}

// Legacy cancellations taken as they come (--accept_unknown_cancellations): every order.
TEST_F(HandlersE2eTest, ConfirmAndCancelSentInEveryOrder) {
  StartServer(/*use_fakes=*/false, {"--accept_unknown_cancellations"});
  // Cancel sent before the confirmation: the confirmation is newer and wins.
  Send("canceled", "k1");
  Send("confirmed", "k2");
  ASSERT_TRUE(Eventually([&] {
    return db_.Count("tracker_rows") == 2 &&
           db_.QueryValue("SELECT status FROM tickets") == "confirmed";
  })) << server_->log();
  // Confirmed twice (two requests), canceled twice: one receipt per request, newest wins.
  Send("confirmed", "k3");
  Send("canceled", "k4");
  Send("canceled", "k4");  // the same request again: nothing new
  Send("canceled", "k5");
  ASSERT_TRUE(Eventually([&] {
    return db_.Count("tracker_rows WHERE sheet = 'tickets-to-refund'") == 3;
  })) << server_->log();
  EXPECT_TRUE(
      Eventually([&] { return db_.QueryValue("SELECT status FROM tickets") == "canceled"; }));
  EXPECT_EQ(db_.Count("receipts"), 2);
  EXPECT_EQ(db_.Count("tickets"), 1);
}

}  // namespace
}  // namespace booking::e2e
