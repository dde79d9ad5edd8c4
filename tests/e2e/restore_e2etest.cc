// A real pg_dump of the service's database restored into another PostgreSQL cluster, whose
// transaction ids are far behind the first one's: the stored positions are then ahead of the new
// cluster, and without a rebase every handler would skip every new event (lag 0, STORED answered
// as reached, GetTicket NOT_FOUND). The binary on the new cluster must store new tickets
// truthfully, finish the old cluster's unfinished work and honour a resume token from before.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_external_apis.h"
#include "tests/support/bad_requests.h"
#include "tests/support/booking_server.h"
#include "tests/support/eventually.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/test_database.h"
#include "tickets/v1/admin.grpc.pb.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::e2e {
namespace {

using testing::Eventually;
using ::testing::HasSubstr;
using Request = tickets::v1::UpdateTicketsStatusRequest;
using Step = tickets::v1::TicketStep;

// The next transaction id of the cluster at `url`.
uint64_t NextXid(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  return txn.exec1("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")[0].as<uint64_t>();
}

// Uses up transaction ids, one committed transaction each, inside the server.
void BurnXids(const std::string& url, uint64_t count) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  txn.exec0(absl::StrCat("DO $$ BEGIN FOR i IN 1..", count,
                         " LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$"));
}

// booking-server over one database, with the clients this test uses.
class Server {
 public:
  Server(const std::string& url, const std::string& receipts_url)
      : url_(url),
        flags_({"--http_addr=", "--receipts_url=" + receipts_url, "--retry_max_delay=1s"}) {}
  absl::Status Start() {
    server_ = testing::BookingServer::Start(url_, flags_);
    if (!server_->ready()) return absl::UnavailableError("booking-server did not start");
    stub_ = tickets::v1::BookingService::NewStub(server_->channel());
    admin_ = tickets::v1::AdminService::NewStub(server_->channel());
    return absl::OkStatus();
  }
  bool Stop() {
    stub_.reset();
    admin_.reset();
    return server_->Stop().ok();
  }
  std::string log() const { return server_ == nullptr ? "" : server_->log(); }
  tickets::v1::BookingService::Stub& stub() { return *stub_; }

  // Sends `request` waiting for STORED; true when the answer says it was reached.
  bool SendStored(Request request, const std::string& key) {
    request.set_consistency(Request::STORED);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    context.AddMetadata("idempotency-key", key);
    tickets::v1::UpdateTicketsStatusResponse response;
    grpc::Status status = stub_->UpdateTicketsStatus(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return status.ok() && response.consistency_reached();
  }
  grpc::StatusCode GetTicket(const std::string& id, tickets::v1::Ticket* ticket = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    tickets::v1::GetTicketRequest request;
    request.set_ticket_id(id);
    tickets::v1::Ticket found;
    grpc::StatusCode code = stub_->GetTicket(&context, request, &found).error_code();
    if (ticket != nullptr) *ticket = found;
    return code;
  }
  // Handler → lag; empty when the call fails.
  std::map<std::string, int64_t> Lags() {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    tickets::v1::GetHandlerStatusResponse response;
    std::map<std::string, int64_t> lags;
    if (!admin_->GetHandlerStatus(&context, {}, &response).ok()) return lags;
    for (const auto& handler : response.handlers()) lags[handler.handler()] = handler.lag();
    return lags;
  }

 private:
  std::string url_;
  testing::ServerFlags flags_;
  std::unique_ptr<testing::BookingServer> server_;
  std::unique_ptr<tickets::v1::BookingService::Stub> stub_;
  std::unique_ptr<tickets::v1::AdminService::Stub> admin_;
};

// The steps of `ticket`: history first (after `resume` if given), until `enough` holds or the
// deadline.
std::vector<Step> WatchSteps(tickets::v1::BookingService::Stub& stub, const std::string& ticket,
                             const std::string& resume,
                             const std::function<bool(const std::vector<Step>&)>& enough,
                             absl::Duration deadline) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  tickets::v1::WatchTicketsRequest request;
  request.add_ticket_ids(ticket);
  request.set_resume_token(resume);
  std::unique_ptr<grpc::ClientReader<Step>> reader = stub.WatchTickets(&context, request);
  std::vector<Step> steps;
  Step step;
  while (!enough(steps) && reader->Read(&step)) steps.push_back(step);
  context.TryCancel();
  reader->Finish();
  return steps;
}

std::function<bool(const std::vector<Step>&)> Count(size_t count) {
  return [count](const std::vector<Step>& steps) { return steps.size() >= count; };
}

// Kinds, with the detail where it tells steps of one kind apart.
std::vector<std::string> Kinds(const std::vector<Step>& steps) {
  std::vector<std::string> kinds;
  for (const Step& step : steps) {
    std::string kind = Step::Kind_Name(step.kind());
    if (step.kind() == Step::ACCEPTED || step.kind() == Step::APPENDED_TO_TRACKER) {
      absl::StrAppend(&kind, " ", step.detail());
    }
    kinds.push_back(kind);
  }
  return kinds;
}

bool AllZero(const std::map<std::string, int64_t>& lags) {
  if (lags.empty()) return false;
  for (const auto& [handler, lag] : lags) {
    if (lag != 0) return false;
  }
  return true;
}

TEST(RestoreE2eTest, DumpRestoredIntoAnotherClusterStoresNewTicketsAndFinishesOldOnes) {
  testing::PrivateCluster second(absl::StrCat(BOOKING_SOURCE_DIR, "/tools/pg.sh"));
  ASSERT_TRUE(second.Start().ok());
  testing::TestDatabase first;
  // The first cluster's ids well ahead of the second's, as a long-lived production cluster's
  // are ahead of a new one's.
  const uint64_t second_xid = NextXid(second.url());
  const uint64_t first_xid = NextXid(first.url());
  if (first_xid < second_xid + 200'000) BurnXids(first.url(), second_xid + 200'000 - first_xid);
  ASSERT_GE(NextXid(first.url()), second_xid + 200'000);

  // On the first cluster: 30 tickets stored and on the tracker; their receipts still pending
  // (the receipts API is down), so the dump holds unfinished work.
  testing::FakeExternalApis receipts;
  receipts.SetRefusing(true);
  const Request before = testing::ValidRequest(30, "0e570e00");
  const std::string watched = before.tickets(0).ticket_id();
  std::string token;
  {
    Server server(first.url(), receipts.url());
    ASSERT_TRUE(server.Start().ok());
    ASSERT_TRUE(server.SendStored(before, "restore-before"));
    ASSERT_TRUE(Eventually([&] {
      std::map<std::string, int64_t> lags = server.Lags();
      return lags["StoreTickets"] == 0 && lags["AppendToTracker"] == 0 &&
             lags["IssueReceipt"] == 30;
    }));
    const std::vector<Step> steps =  // accepted, stored, on the tracker
        WatchSteps(server.stub(), watched, "", Count(3), absl::Seconds(20));
    ASSERT_EQ(steps.size(), 3u);
    token = steps.back().resume_token();
    ASSERT_TRUE(server.Stop()) << server.log();
  }

  const std::string bin = testing::PostgresBinDir();
  const std::string dump = absl::StrCat("/tmp/booking-restore-e2e-", getpid(), ".dump");
  absl::StatusOr<std::string> dumped =
      testing::RunCommand(absl::StrCat(bin, "/pg_dump -Fc -f ", dump, " '", first.url(), "'"));
  ASSERT_TRUE(dumped.ok()) << dumped.status();
  absl::StatusOr<std::string> restored = testing::RunCommand(
      absl::StrCat(bin, "/pg_restore --exit-on-error --no-owner -d '", second.url(), "' ", dump));
  std::remove(dump.c_str());
  ASSERT_TRUE(restored.ok()) << restored.status();
  {  // The problem is there: positions ahead of the new cluster.
    pqxx::connection conn(second.url());
    pqxx::nontransaction txn(conn);
    EXPECT_TRUE(txn.exec1("SELECT max(tx::text::numeric) > pg_snapshot_xmax(pg_current_snapshot())"
                          "::text::numeric FROM events")[0]
                    .as<bool>());
  }

  receipts.SetRefusing(false);
  Server server(second.url(), receipts.url());
  ASSERT_TRUE(server.Start().ok()) << server.log();
  EXPECT_THAT(server.log(), HasSubstr("log positions rebased"));

  // New tickets: STORED is reached truthfully, so each is there at once.
  const Request after = testing::ValidRequest(30, "0e570e01");
  ASSERT_TRUE(server.SendStored(after, "restore-after"));
  for (const auto& ticket : after.tickets()) {
    EXPECT_EQ(server.GetTicket(ticket.ticket_id()), grpc::StatusCode::OK) << ticket.ticket_id();
  }
  for (const auto& ticket : before.tickets()) {
    EXPECT_EQ(server.GetTicket(ticket.ticket_id()), grpc::StatusCode::OK) << ticket.ticket_id();
  }

  // The old token goes on after its step: the old receipt (work left by the first cluster,
  // done here), then a cancellation made now.
  ASSERT_EQ(server.GetTicket(watched), grpc::StatusCode::OK);
  Request cancel = testing::ValidRequest(1, "0e570e00");
  cancel.mutable_tickets(0)->set_status("canceled");
  ASSERT_TRUE(server.SendStored(cancel, "restore-cancel"));
  tickets::v1::Ticket ticket;
  ASSERT_EQ(server.GetTicket(watched, &ticket), grpc::StatusCode::OK);
  EXPECT_EQ(ticket.status(), "canceled");
  const std::set<std::string> expected = {"RECEIPT_ISSUED", "ACCEPTED canceled", "CANCELED",
                                          "APPENDED_TO_TRACKER tickets-to-refund"};
  auto seen_all = [&](const std::vector<Step>& steps) {
    const std::vector<std::string> kinds = Kinds(steps);
    const std::set<std::string> seen(kinds.begin(), kinds.end());
    return std::includes(seen.begin(), seen.end(), expected.begin(), expected.end());
  };
  const std::vector<Step> resumed =
      WatchSteps(server.stub(), watched, token, seen_all, absl::Seconds(30));
  EXPECT_TRUE(seen_all(resumed)) << ::testing::PrintToString(Kinds(resumed));
  // (A step committed out of order around the token may come twice; the first never does.)
  EXPECT_THAT(Kinds(resumed), ::testing::Not(::testing::Contains("ACCEPTED confirmed")))
      << "the token was not taken for the start of the history";

  // Every handler gets to the end, with one receipt and one print row per ticket, old and new.
  EXPECT_TRUE(Eventually([&] { return AllZero(server.Lags()); }, absl::Seconds(60)));
  std::set<std::string> receipted;
  for (const auto& [key, number] : receipts.receipts_by_key()) {
    receipted.insert(key.substr(key.rfind('/') + 1));
  }
  EXPECT_EQ(receipted.size(), 60u);
  for (const Request* request : {&before, &after}) {
    for (const auto& t : request->tickets()) EXPECT_TRUE(receipted.count(t.ticket_id()));
  }
  EXPECT_EQ(testing::CountRows(second.url(), "tracker_rows WHERE sheet = 'tickets-to-print'"), 60);
  EXPECT_EQ(testing::CountRows(second.url(), "tracker_rows WHERE sheet = 'tickets-to-refund'"), 1);
  EXPECT_EQ(testing::CountRows(second.url(), "tickets"), 60);
  EXPECT_EQ(testing::CountRows(second.url(), "dead_letters"), 0);
}

}  // namespace
}  // namespace booking::e2e
