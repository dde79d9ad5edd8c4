// The operator console in headless Chromium against the real binary: each test prepares the
// service (tickets, dead letters, load), lets tests/e2e/console_browser.mjs drive the page as
// an operator would, and checks the service's side afterwards. Screenshots at 1,280×800 go to
// $BOOKING_TEST_ARTIFACTS_DIR, else <build dir>/test-artifacts.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_external_apis.h"
#include "tests/support/bad_requests.h"
#include "tests/support/booking_server.h"
#include "tests/support/command.h"
#include "tests/support/eventually.h"
#include "tests/support/load.h"
#include "tests/support/test_database.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::e2e {
namespace {

using ::testing::HasSubstr;

std::filesystem::path ArtifactsDir() {
  const char* dir = std::getenv("BOOKING_TEST_ARTIFACTS_DIR");
  if (dir != nullptr && *dir != '\0') return dir;
  // BOOKING_SERVER_PATH is <build dir>/bin/booking-server.
  return std::filesystem::path(BOOKING_SERVER_PATH).parent_path().parent_path() / "test-artifacts";
}

class ConsoleBrowserE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access("/usr/bin/chromium", X_OK), 0)
        << "/usr/bin/chromium is missing: run tools/bootstrap.sh (it installs chromium)";
    ASSERT_TRUE(std::filesystem::exists(std::filesystem::path(BOOKING_SOURCE_DIR) /
                                        "node_modules/puppeteer-core"))
        << "puppeteer-core is missing: run tools/bootstrap.sh (npm ci)";
    std::error_code error;
    std::filesystem::create_directories(ArtifactsDir(), error);
    ASSERT_FALSE(error) << ArtifactsDir() << ": " << error.message();
  }

  void Start(testing::ServerFlags flags = {}) {
    server_ = testing::BookingServer::Start(db_.url(), std::move(flags));
    ASSERT_TRUE(server_->ready());
  }

  // Runs one scenario of the script; its output (and the server's log) explain a failure.
  void Browse(const std::string& scenario, const std::vector<std::string>& args = {}) {
    std::vector<std::string> quoted;
    for (const std::string& arg : args) quoted.push_back(testing::ShellQuote(arg));
    const testing::CommandResult run = testing::Run(absl::StrCat(
        "cd ", testing::ShellQuote(BOOKING_SOURCE_DIR),
        " && timeout -k 5 120 node tests/e2e/console_browser.mjs ", scenario, " ",
        testing::ShellQuote(server_->url("")), " ", testing::ShellQuote(ArtifactsDir().string()),
        " ", absl::StrJoin(quoted, " "), " 2>&1"));
    EXPECT_EQ(run.exit_code, 0) << run.output << "\n--- server log (tail):\n" << LogTail();
    EXPECT_THAT(run.output, HasSubstr("RESULT {\"ok\":true")) << run.output;
    output_ = run.output;
  }

  std::string LogTail() const {
    const std::string log = server_->log();
    return log.size() > 6000 ? log.substr(log.size() - 6000) : log;
  }

  // Sends tickets `ids` (confirmed, guest-<i>@example.com) and waits until they are stored.
  void SendTickets(const std::vector<std::string>& ids) {
    auto stub = tickets::v1::BookingService::NewStub(server_->channel());
    tickets::v1::UpdateTicketsStatusRequest request;
    for (size_t i = 0; i < ids.size(); ++i) {
      tickets::v1::TicketStatusChange* ticket = request.add_tickets();
      ticket->set_ticket_id(ids[i]);
      ticket->set_status("confirmed");
      ticket->set_customer_email(absl::StrCat("guest-", i, "@example.com"));
      ticket->mutable_price()->set_amount("49.90");
      ticket->mutable_price()->set_currency("EUR");
    }
    // Not the ids themselves: receipt keys carry the call's key, and the fake matches ids in
    // bodies.
    request.set_idempotency_key(
        absl::StrCat("console-", ids.front().substr(0, 8), "-", ids.size()));
    request.set_consistency(tickets::v1::UpdateTicketsStatusRequest::STORED);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    tickets::v1::UpdateTicketsStatusResponse response;
    const grpc::Status status = stub->UpdateTicketsStatus(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_TRUE(response.consistency_reached());
  }

  static std::vector<std::string> Ids(const std::string& prefix, int count) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      char id[64];
      std::snprintf(id, sizeof id, "%s-0000-4000-8000-%012d", prefix.c_str(), i);
      ids.emplace_back(id);
    }
    return ids;
  }

  testing::TestDatabase db_;
  std::unique_ptr<testing::BookingServer> server_;
  std::string output_;
};

// Paging through the list, an id that is no UUID and one of no ticket (each error at the id
// field), then a ticket found by id with its fields and its whole history.
TEST_F(ConsoleBrowserE2eTest, LooksUpAndPagesThroughTickets) {
  Start();
  const std::vector<std::string> ids = Ids("c1000000", 12);
  SendTickets(ids);
  // Every step of the ticket looked up is recorded before the page asks for its history.
  ASSERT_TRUE(testing::Eventually([&] { return testing::CountRows(db_.url(), "receipts") >= 12; }));
  Browse("lookup", ids);
  EXPECT_THAT(output_, HasSubstr("console-ticket.png"));
}

// Cancel asks first; "Keep ticket" sends nothing, "Cancel ticket" cancels it, and the history
// shows the cancellation as the service records it.
TEST_F(ConsoleBrowserE2eTest, CancelsATicketAfterAConfirmation) {
  Start();
  tickets::v1::UpdateTicketsStatusRequest request = testing::ValidRequest(1, "c2000000");
  request.set_consistency(tickets::v1::UpdateTicketsStatusRequest::STORED);
  auto stub = tickets::v1::BookingService::NewStub(server_->channel());
  {
    grpc::ClientContext context;
    tickets::v1::UpdateTicketsStatusResponse response;
    context.AddMetadata("idempotency-key", "console-cancel-1");
    ASSERT_TRUE(stub->UpdateTicketsStatus(&context, request, &response).ok());
  }
  const std::string id = request.tickets(0).ticket_id();
  Browse("cancel", {id});

  grpc::ClientContext context;
  tickets::v1::GetTicketRequest get;
  get.set_ticket_id(id);
  tickets::v1::Ticket ticket;
  ASSERT_TRUE(stub->GetTicket(&context, get, &ticket).ok());
  EXPECT_EQ(ticket.status(), "canceled");
  EXPECT_EQ(testing::CountRows(db_.url(), "events WHERE event_type LIKE '%Canceled%'"), 1)
      << "one cancellation: the kept dialog sent nothing";
}

// Dead letters of two handlers; the page narrows them to one handler and reason, counts them
// with a dry run, refuses a backwards time range at its field, and retries exactly those.
TEST_F(ConsoleBrowserE2eTest, FiltersDeadLettersCountsThemAndRetriesTheBatch) {
  testing::FakeExternalApis receipts, sheets;
  const std::vector<std::string> ids = Ids("c3000000", 5);
  for (int i = 0; i < 3; ++i) receipts.FailTicket(ids[i], 400, R"({"error":"amount refused"})");
  for (int i = 3; i < 5; ++i) sheets.FailTicket(ids[i], 400, R"({"error":"sheet locked"})");
  Start({"--receipts_url=" + receipts.url(), "--spreadsheets_url=" + sheets.url()});
  SendTickets(ids);
  ASSERT_TRUE(testing::Eventually(
      [&] { return testing::CountRows(db_.url(), "dead_letters") == 5; }, absl::Seconds(30)))
      << LogTail();
  // From now on the APIs take them: what the page sends back gets done.
  receipts.ClearTicketFaults();
  sheets.ClearTicketFaults();
  Browse("dead-letters", {"5", "3"});

  EXPECT_TRUE(testing::Eventually([&] { return receipts.receipts_by_key().size() == 5; }))
      << "the three sent back were receipted too";
  EXPECT_EQ(testing::CountRows(db_.url(), "dead_letters WHERE handler = 'AppendToTracker'"), 2)
      << "the other handler's stayed";
  EXPECT_EQ(testing::CountRows(db_.url(), "dead_letters WHERE handler = 'IssueReceipt'"), 0);
}

// Under a steady load the chart's handled/s line rises and moves; a reload keeps it. One ticket
// the receipts API refuses (500) shows as parked with its error, one the tracker refuses (400)
// as a dead letter: the overview screenshot is what an operator meets on a bad day.
TEST_F(ConsoleBrowserE2eTest, TheChartMovesUnderLoad) {
  testing::FakeExternalApis receipts, sheets;
  const std::vector<std::string> odd = Ids("c4ffffff", 2);
  receipts.FailTicket(odd[0], 500, R"({"error":"validation bug"})");
  sheets.FailTicket(odd[1], 400, R"({"error":"sheet locked"})");
  Start({"--receipts_url=" + receipts.url(), "--spreadsheets_url=" + sheets.url(),
         "--retry_for=10m"});
  SendTickets(odd);
  testing::Load load({server_->target()}, 2, "c4000000");
  ASSERT_TRUE(testing::Eventually([&] { return load.acknowledged().size() >= 20; }));
  Browse("chart");
  load.Stop();
  EXPECT_THAT(output_, HasSubstr("console-overview.png"));
}

}  // namespace
}  // namespace booking::e2e
