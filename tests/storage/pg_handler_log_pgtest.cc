#include <cmath>
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/safe_text.h"
#include "common/uuid.h"
#include "gtest/gtest.h"
#include "storage/migrations.h"
#include "storage/pg_event_store.h"
#include "storage/pg_handler_log.h"
#include "tests/support/test_database.h"

namespace booking::storage {
namespace {

const std::string kTicket = "00000000-0000-4000-8000-000000000001";

EventRecord Event(const std::string& key, const std::string& type = "Confirmed") {
  return {common::NewUuid(), type, kTicket, key, "corr", "payload"};
}

class PgHandlerLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Migrate(*pool_).ok());
    ASSERT_TRUE(log_.Register("H", {"Confirmed"}, StartFrom::kEarliest).ok());
    partition_ = std::stoi(
        db_.QueryValue(absl::StrCat("SELECT (hashtextextended('", kTicket, "', 0) & 15)")));
  }

  // Reads until `expected` events come back (or 20 s): readers wait for every transaction in
  // flight on the server, other tests' included.
  absl::StatusOr<HandlerBatchRead> Read(const std::string& owner, size_t expected = 0) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (true) {
      absl::StatusOr<std::vector<PartitionLease>> held = log_.Renew(owner, absl::Minutes(1));
      if (!held.ok()) return held.status();
      absl::StatusOr<HandlerBatchRead> batch = log_.Read("H", {.owner = owner,
                                                               .partitions = *held,
                                                               .event_types = {"Confirmed"},
                                                               .mark_handed_out = true});
      if (!batch.ok() || batch->events.size() >= expected || absl::Now() > deadline) return batch;
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  std::vector<std::string> Keys(const HandlerBatchRead& batch) {
    std::vector<std::string> keys;
    for (const LoggedEvent& e : batch.events) keys.push_back(e.event.idempotency_key);
    return keys;
  }

  testing::TestDatabase db_;
  std::unique_ptr<ConnectionPool> pool_ = db_.MakePool(4);
  PgEventStore store_{*pool_};
  PgHandlerLog log_{*pool_};
  int partition_ = 0;
};

TEST_F(PgHandlerLogTest, ReadsTheEventsOfItsTypePastTheCheckpointInOrder) {
  ASSERT_EQ(log_.Claim("me", absl::Minutes(1), kLogPartitions)->size(), size_t{kLogPartitions});
  const EventRecord events[] = {Event("a"), Event("b", "Canceled"), Event("c")};
  ASSERT_TRUE(store_.Append(events).ok());
  absl::StatusOr<HandlerBatchRead> batch = Read("me", 2);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(Keys(*batch), (std::vector<std::string>{"a", "c"})) << "another type is never read";
  EXPECT_EQ(batch->events[0].event.payload, "payload");
  ASSERT_EQ(batch->ends.size(), 1u);
  EXPECT_EQ(batch->ends[0].first.partition, partition_);

  HandlerProgress progress{.owner = "me", .checkpoints = batch->ends};
  ASSERT_EQ(log_.Commit("H", progress)->stale_partitions, 0);
  EXPECT_TRUE(Read("me")->events.empty()) << "past the checkpoint now";
  EXPECT_EQ(db_.Count("pending_deliveries"), 0);
}

// The gap problem: a transaction that took its sequence first but commits last must not be
// passed by a reader that already saw the later one.
TEST_F(PgHandlerLogTest, NeverPassesAnEventWhoseTransactionIsStillInFlight) {
  ASSERT_TRUE(log_.Claim("me", absl::Minutes(1), kLogPartitions).ok());
  pqxx::connection slow(db_.url());
  pqxx::work in_flight(slow);
  in_flight.exec0(absl::StrCat(
      "INSERT INTO events (event_id, event_type, ticket_id, idempotency_key, correlation_id, "
      "payload, partition) VALUES ('",
      common::NewUuid(), "', 'Confirmed', '", kTicket, "', 'slow', 'c', 'x', ", partition_, ")"));
  const EventRecord fast[] = {Event("fast")};
  ASSERT_TRUE(store_.Append(fast).ok());
  absl::StatusOr<HandlerBatchRead> batch = Read("me");
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->events.empty()) << "'fast' waits until 'slow' is decided";
  in_flight.commit();
  batch = Read("me", 2);
  EXPECT_EQ(Keys(*batch), (std::vector<std::string>{"slow", "fast"}));
}

// Transaction ids are compared as numbers, never as their text: across a change in the number
// of digits (999999 → 1000000) text order would reverse the two and end the batch early.
TEST_F(PgHandlerLogTest, OrdersByTransactionIdAsANumber) {
  ASSERT_TRUE(log_.Claim("me", absl::Minutes(1), kLogPartitions).ok());
  const std::string now = db_.QueryValue("SELECT pg_current_xact_id()::text");
  const uint64_t boundary = static_cast<uint64_t>(std::pow(10.0, now.size() - 1));
  for (const auto& [key, tx] :
       {std::pair{"shorter", boundary - 1}, std::pair{"longer", boundary}}) {
    db_.Exec(absl::StrCat(
        "INSERT INTO events (event_id, event_type, ticket_id, idempotency_key, correlation_id,"
        " payload, partition, tx) VALUES ('",
        common::NewUuid(), "', 'Confirmed', '", kTicket, "', '", key, "', 'c', 'x', ", partition_,
        ", '", tx, "')"));
  }
  absl::StatusOr<HandlerBatchRead> batch = Read("me", 2);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(Keys(*batch), (std::vector<std::string>{"shorter", "longer"}));
  ASSERT_EQ(batch->ends.size(), 1u);
  EXPECT_EQ(batch->ends[0].second.tx, boundary) << "the batch ends at its last event";
}

TEST_F(PgHandlerLogTest, AStaleOwnerCannotMoveACheckpointAndItsWorkIsMarkedRedelivered) {
  ASSERT_EQ(log_.Claim("old", absl::Minutes(1), kLogPartitions)->size(), size_t{kLogPartitions});
  const EventRecord events[] = {Event("a"), Event("b")};
  ASSERT_TRUE(store_.Append(events).ok());
  absl::StatusOr<HandlerBatchRead> stale = Read("old", 2);
  ASSERT_EQ(stale->events.size(), 2u);
  EXPECT_FALSE(stale->events[0].redelivered);

  // "old" stops renewing; "new" takes its partitions over.
  db_.Exec("UPDATE partition_leases SET lease_until = now() - interval '1 second'");
  ASSERT_EQ(log_.Claim("new", absl::Minutes(1), kLogPartitions)->size(), size_t{kLogPartitions});
  HandlerProgress progress{.owner = "old", .checkpoints = stale->ends};
  progress.dead_letters.push_back({stale->events[0].event.sequence, partition_, 1, "x"});
  absl::StatusOr<CommitResult> result = log_.Commit("H", progress);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->stale_partitions, 1);
  EXPECT_EQ(result->stale_dead_letters, 1);
  EXPECT_EQ(db_.Count("dead_letters"), 0);

  absl::StatusOr<HandlerBatchRead> again = Read("new", 2);
  ASSERT_EQ(Keys(*again), (std::vector<std::string>{"a", "b"})) << "nothing was skipped";
  EXPECT_TRUE(again->events[0].redelivered) << "handed out before: a possible duplicate";
  HandlerProgress done{.owner = "new", .checkpoints = again->ends};
  EXPECT_EQ(log_.Commit("H", done)->stale_partitions, 0);
}

TEST_F(PgHandlerLogTest, LeasesAreRenewedClaimedOnlyWhenFreeAndReleased) {
  EXPECT_EQ(log_.Claim("a", absl::Minutes(1), 10)->size(), 10u);
  EXPECT_EQ(log_.Claim("b", absl::Minutes(1), 10)->size(), 6u) << "only the free ones";
  EXPECT_EQ(log_.Renew("a", absl::Minutes(1))->size(), 10u);
  EXPECT_EQ(log_.Renew("b", absl::Minutes(1))->size(), 6u);
  EXPECT_EQ(*log_.LiveOwners(), 2);
  const int give[] = {0, 1};
  ASSERT_TRUE(log_.Release("a", give, /*leaving=*/false).ok());
  EXPECT_EQ(log_.Renew("a", absl::Minutes(1))->size(), 8u);
  absl::StatusOr<std::vector<PartitionLease>> taken = log_.Claim("b", absl::Minutes(1), 5);
  ASSERT_EQ(taken->size(), 2u);
  EXPECT_EQ(taken->at(0).epoch, 2) << "a change of owner raises the epoch";
  ASSERT_TRUE(log_.Release("a", {}, /*leaving=*/true).ok());
  EXPECT_EQ(*log_.LiveOwners(), 1);
}

TEST_F(PgHandlerLogTest, ANewHandlerStartsAtTheEarliestOrTheLatestEvent) {
  const EventRecord old_events[] = {Event("old-1"), Event("old-2")};
  ASSERT_TRUE(store_.Append(old_events).ok());
  EXPECT_EQ(log_.Register("Latest", {"Confirmed"}, StartFrom::kLatest).value_or(false), true);
  EXPECT_EQ(log_.Register("Earliest", {"Confirmed"}, StartFrom::kEarliest).value_or(false), true);
  const EventRecord new_events[] = {Event("new")};
  ASSERT_TRUE(store_.Append(new_events).ok());
  EXPECT_EQ(db_.Count("pending_deliveries WHERE handler = 'Latest'"), 1);
  EXPECT_EQ(db_.Count("pending_deliveries WHERE handler = 'Earliest'"), 3);
  // Known handlers are not placed again, whatever start they are given: they go on.
  EXPECT_EQ(log_.Register("Latest", {"Confirmed"}, StartFrom::kEarliest).value_or(true), false);
  EXPECT_EQ(log_.Register("Earliest", {"Confirmed"}, StartFrom::kLatest).value_or(true), false);
  EXPECT_EQ(db_.Count("pending_deliveries WHERE handler = 'Latest'"), 1);
  EXPECT_EQ(db_.Count("pending_deliveries WHERE handler = 'Earliest'"), 3);
  absl::StatusOr<std::vector<HandlerBacklog>> backlog = log_.Backlog();
  ASSERT_TRUE(backlog.ok());
  EXPECT_EQ(backlog->size(), 3u);  // H, Latest, Earliest
}

// The backlog gives, besides the count, when the oldest unread event was published: the lag in
// time. A handler that has read everything has none, however many events it has.
TEST_F(PgHandlerLogTest, TheBacklogSaysWhenTheOldestUnreadEventWasPublished) {
  ASSERT_EQ(log_.Claim("me", absl::Minutes(1), kLogPartitions)->size(), size_t{kLogPartitions});
  const EventRecord events[] = {Event("a"), Event("b")};
  ASSERT_TRUE(store_.Append(events).ok());
  db_.Exec(
      "UPDATE events SET published_at = now() - interval '90 seconds'"
      " WHERE idempotency_key = 'a'");
  auto of_h = [&]() -> HandlerBacklog {
    absl::StatusOr<std::vector<HandlerBacklog>> backlog = log_.Backlog();
    EXPECT_TRUE(backlog.ok()) << backlog.status();
    for (const HandlerBacklog& handler : backlog.value_or(std::vector<HandlerBacklog>{})) {
      if (handler.handler == "H") return handler;
    }
    return {};
  };
  const HandlerBacklog behind = of_h();
  EXPECT_EQ(behind.events, 2);
  const absl::Duration age = absl::Now() - behind.oldest_unread;
  EXPECT_GT(age, absl::Seconds(85));
  EXPECT_LT(age, absl::Seconds(120));

  absl::StatusOr<HandlerBatchRead> batch = Read("me", 2);
  ASSERT_EQ(batch.value_or(HandlerBatchRead{}).events.size(), 2u);
  HandlerProgress progress{.owner = "me", .checkpoints = batch->ends};
  ASSERT_EQ(log_.Commit("H", progress)->stale_partitions, 0);
  const HandlerBacklog caught_up = of_h();
  EXPECT_EQ(caught_up.events, 0);
  EXPECT_EQ(caught_up.oldest_unread, absl::InfiniteFuture());
}

// The fence holds at the commit, not only at the check: a claim that took the partition while
// the stale owner was between its check and its commit wins, and the stale commit writes nothing.
TEST_F(PgHandlerLogTest, AClaimRacingTheCommitWinsAndTheStaleCommitChangesNothing) {
  ASSERT_EQ(log_.Claim("old", absl::Minutes(1), kLogPartitions)->size(), size_t{kLogPartitions});
  const EventRecord events[] = {Event("a")};
  ASSERT_TRUE(store_.Append(events).ok());
  absl::StatusOr<HandlerBatchRead> stale = Read("old", 1);
  ASSERT_EQ(stale->events.size(), 1u);
  const std::string before = db_.QueryValue(absl::StrCat(
      "SELECT last_sequence FROM handler_checkpoints WHERE handler = 'H' AND partition = ",
      partition_));

  // Another instance's claim has changed the lease row and not committed yet.
  pqxx::connection other(db_.url());
  pqxx::work claim(other);
  claim.exec0(
      absl::StrCat("UPDATE partition_leases SET owner = 'new', epoch = epoch + 1,"
                   " lease_until = now() + interval '1 minute' WHERE partition = ",
                   partition_));
  HandlerProgress progress{.owner = "old", .checkpoints = stale->ends};
  progress.finished.push_back({stale->events[0].event.sequence, partition_, "note"});
  std::future<absl::StatusOr<CommitResult>> commit =
      std::async(std::launch::async, [&] { return log_.Commit("H", progress); });
  EXPECT_EQ(commit.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "the commit waits for the lease row the claim holds";
  claim.commit();
  absl::StatusOr<CommitResult> result = commit.get();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stale_partitions, 1);
  EXPECT_EQ(result->stale, std::vector<int>{partition_});
  EXPECT_EQ(
      db_.QueryValue(absl::StrCat(
          "SELECT last_sequence FROM handler_checkpoints WHERE handler = 'H' AND partition = ",
          partition_)),
      before);
  EXPECT_EQ(db_.Count("ticket_steps WHERE step = 'done'"), 0) << "no step of a stale owner";
}

TEST_F(PgHandlerLogTest, ACheckpointNeverMovesBackwards) {
  ASSERT_EQ(log_.Claim("me", absl::Minutes(1), kLogPartitions)->size(), size_t{kLogPartitions});
  const EventRecord events[] = {Event("a"), Event("b")};
  ASSERT_TRUE(store_.Append(events).ok());
  absl::StatusOr<HandlerBatchRead> batch = Read("me", 2);
  ASSERT_EQ(batch->events.size(), 2u);
  const PartitionLease lease = batch->ends[0].first;
  HandlerProgress later{.owner = "me", .checkpoints = {{lease, batch->events[1].position}}};
  ASSERT_EQ(log_.Commit("H", later)->stale_partitions, 0);
  // A late commit of an older position (a retried commit, a second writer): the mark stays.
  HandlerProgress older{.owner = "me", .checkpoints = {{lease, batch->events[0].position}}};
  ASSERT_EQ(log_.Commit("H", older)->stale_partitions, 0);
  EXPECT_EQ(
      db_.QueryValue(absl::StrCat(
          "SELECT last_sequence FROM handler_checkpoints WHERE handler = 'H' AND partition = ",
          partition_)),
      std::to_string(batch->events[1].event.sequence));
  EXPECT_TRUE(Read("me")->events.empty());
}

// A parked event holds its ticket's later events back for this handler: they are read as
// blocked, and a claim hands out only the oldest row of a ticket.
TEST_F(PgHandlerLogTest, AParkedEventHoldsItsTicketsLaterEventsBehindIt) {
  ASSERT_EQ(log_.Claim("me", absl::Minutes(1), kLogPartitions)->size(), size_t{kLogPartitions});
  const EventRecord first[] = {Event("a")};
  ASSERT_TRUE(store_.Append(first).ok());
  absl::StatusOr<HandlerBatchRead> batch = Read("me", 1);
  ASSERT_EQ(batch->events.size(), 1u);
  const int64_t parked_sequence = batch->events[0].event.sequence;
  const absl::Time failed = absl::Now();
  HandlerProgress park{.owner = "me", .checkpoints = batch->ends};
  park.parked.push_back({parked_sequence, partition_, kTicket, absl::Now() - absl::Seconds(1),
                         failed, "HTTP 500", 1});
  ASSERT_EQ(log_.Commit("H", park)->stale_partitions, 0);
  EXPECT_EQ(db_.Count("ticket_steps WHERE step = 'retrying' AND next_attempt_at IS NOT NULL"), 1);
  absl::StatusOr<std::vector<ParkedSummary>> summary = log_.Parked();
  ASSERT_TRUE(summary.ok());
  ASSERT_EQ(summary->size(), 1u);
  EXPECT_EQ((*summary)[0].parked, 1);
  EXPECT_LE(absl::AbsDuration((*summary)[0].oldest - failed), absl::Milliseconds(1));

  const EventRecord second[] = {Event("b")};
  ASSERT_TRUE(store_.Append(second).ok());
  absl::StatusOr<std::vector<PartitionLease>> held = log_.Renew("me", absl::Minutes(1));
  ReadOptions options{
      .owner = "me", .partitions = *held, .event_types = {"Confirmed"}, .by_ticket = true};
  absl::StatusOr<HandlerBatchRead> later;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    later = log_.Read("H", options);
  } while (later.ok() && later->events.empty() && absl::Now() < deadline);
  ASSERT_EQ(later->events.size(), 1u);
  EXPECT_TRUE(later->events[0].blocked) << "its ticket has a parked event ahead";
  HandlerProgress behind{.owner = "me", .checkpoints = later->ends};
  behind.parked.push_back({later->events[0].event.sequence, partition_, kTicket, absl::Now(),
                           absl::InfinitePast(), "", 0});
  ASSERT_EQ(log_.Commit("H", behind)->stale_partitions, 0);

  // Both rows are due; only the parked one is handed out while it exists.
  ReadOptions claims{.owner = "me", .event_types = {"Confirmed"}, .max_redeliveries = 10};
  absl::StatusOr<HandlerBatchRead> due = log_.Read("H", claims);
  ASSERT_EQ(due->events.size(), 1u);
  EXPECT_EQ(due->events[0].event.sequence, parked_sequence);
  EXPECT_EQ(due->events[0].attempts, 2) << "one call before parking, this is the second";
  EXPECT_LE(absl::AbsDuration(due->events[0].first_failed_at - failed), absl::Milliseconds(1));
  HandlerProgress done{.owner = "me", .redeliveries_done = {parked_sequence}};
  ASSERT_TRUE(log_.Commit("H", done).ok());
  db_.Exec("UPDATE deliveries SET lease_until = now()");
  absl::StatusOr<HandlerBatchRead> next = log_.Read("H", claims);
  ASSERT_EQ(next->events.size(), 1u);
  EXPECT_EQ(next->events[0].event.sequence, later->events[0].event.sequence);
  EXPECT_EQ(next->events[0].first_failed_at, absl::InfinitePast()) << "it never failed";
}

// Text from outside reaches rows only as valid UTF-8, whatever the API sent: each place where
// such text enters a row (dead letter, parked reason, steps) gets bytes PostgreSQL would refuse.
TEST_F(PgHandlerLogTest, TextFromOutsideIsStoredAsValidUtf8InEveryRow) {
  ASSERT_EQ(log_.Claim("me", absl::Minutes(1), kLogPartitions)->size(), size_t{kLogPartitions});
  const EventRecord events[] = {Event("a"), Event("b"), Event("c")};
  ASSERT_TRUE(store_.Append(events).ok());
  absl::StatusOr<HandlerBatchRead> batch = Read("me", 3);
  ASSERT_EQ(batch->events.size(), 3u);
  // Cut mid-character at byte 200, cp1252, a NUL: SQLSTATE 22021 for each as it is.
  std::string cut(199, 'x');
  cut += "\xE2\x82";  // the first two bytes of "€"
  const std::string cp1252 =
      "Erreur: donn\xE9"
      "es refus\xE9"
      "es";
  const std::string nul("bad\0byte", 8);
  HandlerProgress progress{.owner = "me", .checkpoints = batch->ends};
  progress.finished.push_back({batch->events[0].event.sequence, partition_, cp1252});
  progress.dead_letters.push_back({batch->events[1].event.sequence, partition_, 1, cut});
  progress.parked.push_back(
      {batch->events[2].event.sequence, partition_, kTicket, absl::Now(), absl::Now(), nul, 1});
  absl::StatusOr<CommitResult> result = log_.Commit("H", progress);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stale_partitions, 0);
  const std::string reason = db_.QueryValue("SELECT reason FROM dead_letters");
  EXPECT_TRUE(common::IsSafeText(reason));
  EXPECT_EQ(reason.substr(0, 199), std::string(199, 'x'));
  EXPECT_TRUE(common::IsSafeText(db_.QueryValue("SELECT last_error FROM deliveries")));
  EXPECT_EQ(db_.QueryValue("SELECT last_error FROM deliveries"),
            "bad\xEF\xBF\xBD"
            "byte");
  EXPECT_EQ(db_.QueryValue("SELECT detail FROM ticket_steps WHERE step = 'done'"),
            "Erreur: donn\xEF\xBF\xBD"
            "es refus\xEF\xBF\xBD"
            "es");
  EXPECT_EQ(db_.Count("ticket_steps WHERE step IN ('dead_lettered', 'retrying')"), 2);
}

}  // namespace
}  // namespace booking::storage
