#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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
  return {workers::NewUuid(), type, kTicket, key, "corr", "payload"};
}

class PgHandlerLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Migrate(*pool_).ok());
    ASSERT_TRUE(log_.Register("H", "Confirmed", StartFrom::kEarliest).ok());
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
                                                               .event_type = "Confirmed",
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
      workers::NewUuid(), "', 'Confirmed', '", kTicket, "', 'slow', 'c', 'x', ", partition_, ")"));
  const EventRecord fast[] = {Event("fast")};
  ASSERT_TRUE(store_.Append(fast).ok());
  absl::StatusOr<HandlerBatchRead> batch = Read("me");
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->events.empty()) << "'fast' waits until 'slow' is decided";
  in_flight.commit();
  batch = Read("me", 2);
  EXPECT_EQ(Keys(*batch), (std::vector<std::string>{"slow", "fast"}));
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
  EXPECT_EQ(log_.Register("Latest", "Confirmed", StartFrom::kLatest).value_or(false), true);
  EXPECT_EQ(log_.Register("Earliest", "Confirmed", StartFrom::kEarliest).value_or(false), true);
  const EventRecord new_events[] = {Event("new")};
  ASSERT_TRUE(store_.Append(new_events).ok());
  EXPECT_EQ(db_.Count("pending_deliveries WHERE handler = 'Latest'"), 1);
  EXPECT_EQ(db_.Count("pending_deliveries WHERE handler = 'Earliest'"), 3);
  // Known handlers are not placed again, whatever start they are given: they go on.
  EXPECT_EQ(log_.Register("Latest", "Confirmed", StartFrom::kEarliest).value_or(true), false);
  EXPECT_EQ(log_.Register("Earliest", "Confirmed", StartFrom::kLatest).value_or(true), false);
  EXPECT_EQ(db_.Count("pending_deliveries WHERE handler = 'Latest'"), 1);
  EXPECT_EQ(db_.Count("pending_deliveries WHERE handler = 'Earliest'"), 3);
  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> backlog = log_.Backlog();
  ASSERT_TRUE(backlog.ok());
  EXPECT_EQ(backlog->size(), 3u);  // H, Latest, Earliest
}

}  // namespace
}  // namespace booking::storage
