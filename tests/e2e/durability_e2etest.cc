// Nothing acknowledged is ever lost: the real binary through kill -9, restarts, a PostgreSQL
// outage, failing external APIs, two instances on one database, and overload.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_external_apis.h"
#include "tests/support/booking_server.h"
#include "tests/support/eventually.h"
#include "tests/support/http_call.h"
#include "tests/support/load.h"
#include "tests/support/test_database.h"
#include "tickets/v1/admin.grpc.pb.h"

namespace booking::e2e {
namespace {

using ::testing::Gt;

using testing::Eventually;
constexpr auto& Column = testing::ColumnValues;
constexpr auto& Count = testing::CountRows;

// Every acknowledged ticket is stored, has exactly one receipt and one print-tracker row, and no
// delivery is left unfinished.
void ExpectAllProcessedOnce(const std::string& url, const std::set<std::string>& acknowledged) {
  ASSERT_FALSE(acknowledged.empty());
  ASSERT_TRUE(Eventually([&] { return Count(url, "pending_deliveries") == 0; }))
      << Count(url, "pending_deliveries") << " deliveries unfinished";
  const std::set<std::string> stored = Column(url, "SELECT ticket_id::text FROM tickets");
  for (const std::string& id : acknowledged) EXPECT_TRUE(stored.count(id)) << id << " lost";
  EXPECT_EQ(Count(url, "(SELECT ticket_id FROM receipts GROUP BY ticket_id HAVING count(*) > 1) d"),
            0);
  EXPECT_EQ(Count(url,
                  "(SELECT ticket_id FROM tracker_rows GROUP BY sheet, ticket_id "
                  "HAVING count(*) > 1) d"),
            0);
  const std::set<std::string> receipted = Column(url, "SELECT ticket_id::text FROM receipts");
  const std::set<std::string> tracked = Column(url, "SELECT ticket_id::text FROM tracker_rows");
  for (const std::string& id : acknowledged) {
    EXPECT_TRUE(receipted.count(id)) << id << " has no receipt";
    EXPECT_TRUE(tracked.count(id)) << id << " has no tracker row";
  }
  EXPECT_EQ(Count(url, "dead_letters"), 0);
}

// Short leases and retries, so a test sees a takeover or a retry within seconds.
std::unique_ptr<testing::BookingServer> StartServer(const std::string& url,
                                                    testing::ServerFlags extra = {}) {
  testing::ServerFlags flags = {"--delivery_lease=2s", "--retry_first_delay=50ms",
                                "--retry_max_delay=500ms"};
  return testing::BookingServer::Start(url, flags.Set(extra));
}

TEST(DurabilityE2eTest, KilledMidStreamLosesNothingAcknowledged) {
  testing::TestDatabase db;
  auto server = StartServer(db.url());
  std::set<std::string> acknowledged;
  {
    testing::Load load({server->target()}, 4, "c0000001");
    ASSERT_TRUE(Eventually([&] { return load.acknowledged().size() >= 300; }, absl::Seconds(30)));
    ASSERT_TRUE(server->Kill().ok());
    load.Stop();
    acknowledged = load.acknowledged();
  }
  server = StartServer(db.url());
  ExpectAllProcessedOnce(db.url(), acknowledged);
  EXPECT_THAT(server->log(), ::testing::HasSubstr("partitions taken count=16"))
      << "the new process took the partitions over once the old leases expired";
}

// SIGTERM under load: a clean exit within a few seconds; what was not handled stays durable and
// is finished by the next start.
TEST(DurabilityE2eTest, GracefulStopUnderLoadLeavesTheRestDurable) {
  testing::TestDatabase db;
  testing::FakeExternalApis receipts;
  receipts.set_slow_delay(absl::Milliseconds(200));
  receipts.FailRandomly(0, /*p_slow=*/1.0, 1);  // every receipt is slow: work piles up
  auto server = StartServer(db.url(), {"--receipts_url=" + receipts.url(), "--delivery_lease=60s",
                                       "--shutdown_timeout=2s"});
  std::set<std::string> acknowledged;
  {
    testing::Load load({server->target()}, 4, "c0000007");
    ASSERT_TRUE(Eventually([&] { return load.acknowledged().size() >= 200; }));
    const absl::Time start = absl::Now();
    const absl::Status stopped = server->Stop(absl::Seconds(15));
    EXPECT_TRUE(stopped.ok()) << stopped << server->log().substr(0, 3000);
    EXPECT_LT(absl::Now() - start, absl::Seconds(8));
    load.Stop();
    acknowledged = load.acknowledged();
  }
  EXPECT_GT(Count(db.url(), "pending_deliveries"), 0) << "work was left for the next start";
  EXPECT_EQ(Count(db.url(), "partition_leases WHERE owner IS NOT NULL"), 0)
      << "its partitions were given back, not left leased for a minute";
  receipts.ClearFaults();
  server = StartServer(db.url(), {"--receipts_url=" + receipts.url()});
  ASSERT_TRUE(Eventually([&] { return Count(db.url(), "pending_deliveries") == 0; }));
  const std::map<std::string, std::string> issued = receipts.receipts_by_key();
  for (const std::string& id : acknowledged) {
    int keys = 0;
    for (const auto& [key, number] : issued) keys += key.find(id) != std::string::npos ? 1 : 0;
    EXPECT_EQ(keys, 1) << id;
  }
}

TEST(DurabilityE2eTest, FlakyReceiptsApiStillGivesOneReceiptEach) {
  testing::TestDatabase db;
  testing::FakeExternalApis receipts;
  receipts.set_slow_delay(absl::Seconds(1));
  receipts.FailRandomly(/*p500=*/0.30, /*p_slow=*/0.05, /*seed=*/42);
  auto server = StartServer(db.url(), {"--receipts_url=" + receipts.url(), "--http_timeout=300ms"});
  testing::Load load({server->target()}, 4, "c0000002");
  ASSERT_TRUE(Eventually([&] { return load.acknowledged().size() >= 200; }, absl::Seconds(60)));
  load.Stop();
  const std::set<std::string> acknowledged = load.acknowledged();
  ASSERT_TRUE(Eventually([&] { return Count(db.url(), "pending_deliveries") == 0; }))
      << server->log().substr(0, 3000);
  EXPECT_EQ(Count(db.url(), "dead_letters"), 0);
  // Exactly one receipt per ticket: every acknowledged ticket's key has one, and no key two.
  const std::map<std::string, std::string> issued = receipts.receipts_by_key();
  for (const std::string& id : acknowledged) {
    int keys = 0;
    for (const auto& [key, number] : issued) keys += key.find(id) != std::string::npos ? 1 : 0;
    EXPECT_EQ(keys, 1) << id;
  }
  int faulted = 0;
  for (const auto& request : receipts.requests()) faulted += request.faulted ? 1 : 0;
  EXPECT_GT(faulted, 0) << "the fault injection did run";
}

// Sends at least 3 tickets to a server whose receipts API always fails, and waits until each
// is an IssueReceipt dead letter. Returns how many (0 on a failure, reported).
long long SendUntilEachIsADeadLetter(const testing::BookingServer& server,
                                     const std::string& db_url, const std::string& prefix) {
  {
    testing::Load load({server.target()}, 1, prefix);
    if (!Eventually([&] { return load.acknowledged().size() >= 3; })) {
      ADD_FAILURE() << "fewer than 3 tickets acknowledged";
      return 0;
    }
  }
  const long long tickets = Count(db_url, "events");
  if (!Eventually([&] { return Count(db_url, "dead_letters") == tickets; })) {
    ADD_FAILURE() << "not every ticket became a dead letter: " << server.log().substr(0, 3000);
    return 0;
  }
  return tickets;
}

TEST(DurabilityE2eTest, DeadLettersAfterRetryForAndReplay) {
  testing::TestDatabase db;
  testing::FakeExternalApis receipts;
  receipts.FailNext(1000000, testing::Fault::kStatus500);
  auto server = StartServer(db.url(), {"--receipts_url=" + receipts.url(), "--retry_for=1s"});
  const long long tickets = SendUntilEachIsADeadLetter(*server, db.url(), "c0000003");
  ASSERT_GT(tickets, 0);
  EXPECT_EQ(Count(db.url(),
                  "dead_letters WHERE handler = 'IssueReceipt' AND "
                  "reason LIKE 'gave up after retrying for %'"),
            tickets)
      << "events the open breaker held back are given up with the rest, untried";
  EXPECT_EQ(Count(db.url(), "tickets"), tickets) << "other handlers were not held back";

  auto admin = tickets::v1::AdminService::NewStub(server->channel());
  grpc::ClientContext list_context;
  list_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  tickets::v1::ListDeadLettersRequest list_request;
  list_request.set_page_size(1000);  // the load may have sent more than the default page
  tickets::v1::ListDeadLettersResponse listed;
  ASSERT_TRUE(admin->ListDeadLetters(&list_context, list_request, &listed).ok());
  ASSERT_EQ(listed.dead_letters_size(), tickets);
  EXPECT_EQ(listed.dead_letters(0).id().handler(), "IssueReceipt");
  EXPECT_GE(listed.dead_letters(0).attempts(), 1);

  receipts.ClearFaults();
  grpc::ClientContext one_context;
  tickets::v1::RetryDeadLettersRequest one;
  *one.add_ids() = listed.dead_letters(0).id();
  tickets::v1::RetryDeadLettersResponse retried;
  ASSERT_TRUE(admin->RetryDeadLetters(&one_context, one, &retried).ok());
  EXPECT_EQ(retried.retried(), 1);
  ASSERT_TRUE(Eventually([&] { return receipts.receipts_by_key().size() == 1; }));

  grpc::ClientContext all_context;
  tickets::v1::RetryDeadLettersRequest all;
  all.set_all(true);
  ASSERT_TRUE(admin->RetryDeadLetters(&all_context, all, &retried).ok());
  EXPECT_EQ(retried.retried(), tickets - 1);
  ASSERT_TRUE(Eventually([&] {
    return static_cast<long long>(receipts.receipts_by_key().size()) == tickets &&
           Count(db.url(), "pending_deliveries") == 0;
  }));
  EXPECT_EQ(Count(db.url(), "dead_letters"), 0);

  grpc::ClientContext bad_context;
  tickets::v1::RetryDeadLettersRequest neither;
  grpc::Status refused = admin->RetryDeadLetters(&bad_context, neither, &retried);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(refused.error_details().empty()) << "a BadRequest naming ids";

  // A dead letter that is none (retried already, or a typo) is NOT_FOUND, not a silent 0.
  grpc::ClientContext gone_context;
  grpc::Status gone = admin->RetryDeadLetters(&gone_context, one, &retried);
  EXPECT_EQ(gone.error_code(), grpc::StatusCode::NOT_FOUND) << gone.error_message();
  EXPECT_THAT(gone.error_message(), ::testing::HasSubstr("ids[0]"));
  EXPECT_THAT(gone.error_message(), ::testing::HasSubstr("IssueReceipt"));
}

// Dead letters by the batch, as a script (or the console) handles them: a filter over REST
// narrows the list and counts every match; a dry run counts what a retry would send back and
// sends nothing; the retry by that filter (over gRPC) sends back exactly those.
TEST(DurabilityE2eTest, DeadLettersAreFilteredCountedAndRetriedByTheBatch) {
  testing::TestDatabase db;
  testing::FakeExternalApis receipts;
  receipts.FailNext(1000000, testing::Fault::kStatus500);
  auto server = StartServer(db.url(), {"--receipts_url=" + receipts.url(), "--retry_for=1s"});
  const long long tickets = SendUntilEachIsADeadLetter(*server, db.url(), "c0000004");
  ASSERT_GT(tickets, 0);

  testing::HttpCaller http;
  const testing::HttpResult page = http.Call(
      "GET",
      server->url("/v1/admin/dead-letters?page_size=1&filter.handler=IssueReceipt"
                  "&filter.reason_contains=GAVE%20UP&filter.failed_after=2020-01-01T00:00:00Z"));
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_THAT(page.body, ::testing::HasSubstr(absl::StrCat("\"total_matching\":\"", tickets, "\"")))
      << page.body;
  EXPECT_EQ(std::count(page.body.begin(), page.body.end(), '{'), 1 + 3)
      << "one dead letter (with its id and time) in the page: " << page.body;
  const testing::HttpResult none = http.Call(
      "GET", server->url("/v1/admin/dead-letters?filter.failed_after=2999-01-01T00:00:00Z"));
  EXPECT_EQ(none.status, 200) << none.body;
  EXPECT_THAT(none.body, ::testing::HasSubstr("\"total_matching\":\"0\"")) << none.body;
  const testing::HttpResult bad =
      http.Call("GET", server->url("/v1/admin/dead-letters?filter.failed_after=yesterday"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, ::testing::HasSubstr("filter.failed_after")) << bad.body;
  const testing::HttpResult backwards =
      http.Call("GET", server->url("/v1/admin/dead-letters?filter.failed_after=2026-01-02T00:00:00Z"
                                   "&filter.failed_before=2026-01-01T00:00:00Z"));
  EXPECT_EQ(backwards.status, 400);
  EXPECT_THAT(backwards.body, ::testing::HasSubstr("filter.failed_before")) << backwards.body;

  const testing::HttpResult dry =
      http.Call("POST", server->url("/v1/admin/dead-letters:retry"),
                R"({"filter":{"handler":"IssueReceipt","reasonContains":"gave up"},"dryRun":true})",
                {"Content-Type: application/json"});
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_THAT(dry.body, ::testing::HasSubstr(absl::StrCat("\"matched\":", tickets))) << dry.body;
  EXPECT_THAT(dry.body, ::testing::HasSubstr("\"retried\":0")) << dry.body;
  EXPECT_EQ(Count(db.url(), "dead_letters"), tickets) << "a dry run sends nothing back";
  const testing::HttpResult other = http.Call(
      "POST", server->url("/v1/admin/dead-letters:retry"),
      R"({"filter":{"handler":"StoreTickets"},"dryRun":true})", {"Content-Type: application/json"});
  EXPECT_THAT(other.body, ::testing::HasSubstr("\"matched\":0")) << "no StoreTickets dead letter";

  auto admin = tickets::v1::AdminService::NewStub(server->channel());
  tickets::v1::RetryDeadLettersResponse retried;
  {
    grpc::ClientContext context;
    tickets::v1::RetryDeadLettersRequest both;
    both.set_all(true);
    both.mutable_filter()->set_handler("IssueReceipt");
    const grpc::Status refused = admin->RetryDeadLetters(&context, both, &retried);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(refused.error_message(), ::testing::HasSubstr("only one of them"));
  }
  receipts.ClearFaults();
  grpc::ClientContext context;
  tickets::v1::RetryDeadLettersRequest by_filter;
  by_filter.mutable_filter()->set_handler("IssueReceipt");
  ASSERT_TRUE(admin->RetryDeadLetters(&context, by_filter, &retried).ok());
  EXPECT_EQ(retried.retried(), tickets);
  EXPECT_EQ(retried.matched(), tickets);
  ASSERT_TRUE(Eventually([&] {
    return static_cast<long long>(receipts.receipts_by_key().size()) == tickets &&
           Count(db.url(), "pending_deliveries") == 0;
  }));
  EXPECT_EQ(Count(db.url(), "dead_letters"), 0);
}

TEST(DurabilityE2eTest, TwoInstancesShareOneDatabaseAndSurviveOneKilled) {
  testing::TestDatabase db;
  auto a = StartServer(db.url(), {"--instance_id=a"});
  auto b = StartServer(db.url(), {"--instance_id=b"});
  std::set<std::string> acknowledged;
  {
    testing::Load load({a->target(), b->target()}, 4, "c0000004");
    ASSERT_TRUE(Eventually([&] { return load.acknowledged().size() >= 300; }));
    ASSERT_TRUE(a->Kill().ok());
    const size_t at_kill = load.acknowledged().size();
    // Calls to the dead instance fail; the survivor keeps accepting.
    ASSERT_TRUE(Eventually([&] { return load.acknowledged().size() >= at_kill + 200; }));
    load.Stop();
    acknowledged = load.acknowledged();
  }
  ExpectAllProcessedOnce(db.url(), acknowledged);
  EXPECT_THAT(b->log(), ::testing::HasSubstr("held=16")) << "b took over a's partitions";
}

TEST(DurabilityE2eTest, OverloadIsRefusedQuicklyWithBoundedMemoryAndRecovers) {
  testing::TestDatabase db;
  auto server = StartServer(
      db.url(), {"--queue_capacity=16", "--max_pending_appends=32", "--db_statement_timeout=20s"});
  auto rss_kib = [&] {
    std::ifstream status(absl::StrCat("/proc/", server->process().pid(), "/status"));
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return 0L;
  };
  const long rss_before = rss_kib();
  std::set<std::string> acknowledged;
  {
    // A slowed database: the events table is held, so every commit waits.
    pqxx::connection blocker(db.url());
    pqxx::work lock(blocker);
    lock.exec0("LOCK TABLE events IN EXCLUSIVE MODE");
    testing::Load load({server->target()}, 16, "c0000005");
    ASSERT_TRUE(
        Eventually([&] { return load.codes()[grpc::StatusCode::RESOURCE_EXHAUSTED] >= 100; },
                   absl::Seconds(30)));
    EXPECT_LT(load.slowest_refusal(), absl::Milliseconds(500)) << "refusals are quick";
    const long rss_loaded = rss_kib();
    EXPECT_LT(rss_loaded - rss_before, 64 * 1024) << "memory stays bounded under overload";
    lock.abort();  // the database is fast again
    const int ok_before = load.codes()[grpc::StatusCode::OK];
    ASSERT_TRUE(Eventually([&] { return load.codes()[grpc::StatusCode::OK] > ok_before + 200; }))
        << "it recovers once the load can be served";
    load.Stop();
    acknowledged = load.acknowledged();
  }
  ExpectAllProcessedOnce(db.url(), acknowledged);
}

// A private PostgreSQL cluster of the test's own, so it can be stopped without disturbing the
// other tests.
class PrivatePostgres {
 public:
  PrivatePostgres()
      : port_(testing::PickFreePort()), dir_(absl::StrCat("/tmp/booking-pg-outage-", port_)) {
    EXPECT_EQ(Run("start"), 0);
  }
  ~PrivatePostgres() {
    Run("stop");
    std::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }
  int Run(const std::string& command) {
    return std::system(absl::StrCat("BOOKING_PG_PORT=", port_, " BOOKING_PG_DIR='", dir_,
                                    "' bash '" BOOKING_SOURCE_DIR "/tools/pg.sh' ", command,
                                    " >/dev/null 2>&1")
                           .c_str());
  }
  std::string url() const {
    return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/booking");
  }

 private:
  const int port_;
  const std::string dir_;
};

TEST(DurabilityE2eTest, PostgresOutageFailsCallsAndLosesNothing) {
  PrivatePostgres postgres;
  auto server = StartServer(postgres.url());
  testing::Load load({server->target()}, 4, "c0000006");
  ASSERT_TRUE(Eventually([&] { return load.acknowledged().size() >= 100; }));
  ASSERT_EQ(postgres.Run("stop"), 0);
  const int unavailable_before = load.codes()[grpc::StatusCode::UNAVAILABLE];
  ASSERT_TRUE(Eventually([&] {
    return load.codes()[grpc::StatusCode::UNAVAILABLE] > unavailable_before + 20;
  })) << "calls fail while the database is down";
  absl::SleepFor(absl::Seconds(3));
  ASSERT_EQ(postgres.Run("start"), 0);
  const size_t acknowledged_at_restart = load.acknowledged().size();
  ASSERT_TRUE(Eventually([&] {
    return load.acknowledged().size() > acknowledged_at_restart + 100;
  })) << server->log().substr(0, 4000);
  load.Stop();
  ExpectAllProcessedOnce(postgres.url(), load.acknowledged());
  EXPECT_THAT(server->log(), ::testing::HasSubstr("health NOT_SERVING"));
}

}  // namespace
}  // namespace booking::e2e
