#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/migrations.h"
#include "storage/pg_event_store.h"
#include "tests/support/test_database.h"
#include "workers/uuid.h"

namespace booking::storage {
namespace {

using Kind = DeliveryOutcome::Kind;

const Route kRoutes[] = {{"Confirmed", "Store"}, {"Confirmed", "Receipt"}, {"Canceled", "Remove"}};

EventRecord Event(const std::string& key, const std::string& type = "Confirmed") {
  return {workers::NewUuid(),
          type,
          "00000000-0000-4000-8000-000000000001",
          key,
          "corr",
          std::string("\x00\x01payload\xff", 10)};
}

DeliveryOutcome Outcome(int64_t sequence, const std::string& handler, DeliveryOutcome::Kind kind) {
  DeliveryOutcome outcome;
  outcome.sequence = sequence;
  outcome.handler = handler;
  outcome.kind = kind;
  return outcome;
}

class PgEventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Migrate(*pool_).ok()); }

  testing::TestDatabase db_;
  std::unique_ptr<ConnectionPool> pool_ = db_.MakePool(4);
  PgEventStore store_{*pool_};
};

TEST_F(PgEventStoreTest, AppendsOncePerKeyWithADeliveryPerRoute) {
  const EventRecord first[] = {Event("k/1"), Event("k/2", "Canceled")};
  absl::StatusOr<std::vector<EventRecord>> appended =
      store_.Append(first, kRoutes, "me", absl::Seconds(30));
  ASSERT_TRUE(appended.ok()) << appended.status();
  ASSERT_EQ(appended->size(), 2u);
  EXPECT_LT((*appended)[0].sequence, (*appended)[1].sequence);
  EXPECT_EQ((*appended)[0].payload, first[0].payload) << "bytes survive, NUL and 0xff included";
  EXPECT_EQ(db_.Count("deliveries"), 3);
  EXPECT_EQ(db_.Count("deliveries WHERE lease_owner = 'me' AND lease_until > now()"), 3);

  const EventRecord again[] = {Event("k/1"), Event("k/3")};
  appended = store_.Append(again, kRoutes, "me", absl::Seconds(30));
  ASSERT_TRUE(appended.ok());
  ASSERT_EQ(appended->size(), 1u) << "k/1 is known";
  EXPECT_EQ((*appended)[0].idempotency_key, "k/3");
  EXPECT_EQ(db_.Count("events"), 3);
}

TEST_F(PgEventStoreTest, SameKeyTwiceInOneAppendIsStoredOnce) {
  const EventRecord twice[] = {Event("dup"), Event("dup")};
  absl::StatusOr<std::vector<EventRecord>> appended =
      store_.Append(twice, kRoutes, "me", absl::ZeroDuration());
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->size(), 1u);
  EXPECT_EQ(db_.Count("events"), 1);
}

TEST_F(PgEventStoreTest, ClaimsOnlyWhatIsDueAndUnowned) {
  const EventRecord leased[] = {Event("leased")};
  ASSERT_TRUE(store_.Append(leased, kRoutes, "me", absl::Seconds(30)).ok());
  const EventRecord free[] = {Event("free")};
  ASSERT_TRUE(store_.Append(free, kRoutes, "", absl::ZeroDuration()).ok());
  absl::StatusOr<std::vector<DeliveryRecord>> claimed =
      store_.ClaimDue("other", absl::Seconds(30), 100);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 2u);
  for (const DeliveryRecord& delivery : *claimed) {
    EXPECT_EQ(delivery.event.idempotency_key, "free");
    EXPECT_EQ(delivery.event.payload, free[0].payload);
    EXPECT_EQ(delivery.attempts, 0);
  }
  EXPECT_TRUE(store_.ClaimDue("third", absl::Seconds(30), 100)->empty()) << "now leased";
}

TEST_F(PgEventStoreTest, ExpiredLeaseIsClaimedAgain) {
  const EventRecord events[] = {Event("k")};
  ASSERT_TRUE(store_.Append(events, kRoutes, "dead-instance", absl::Milliseconds(1)).ok());
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(store_.ClaimDue("survivor", absl::Seconds(30), 100)->size(), 2u);
}

TEST_F(PgEventStoreTest, ConcurrentClaimersNeverShareADelivery) {
  std::vector<EventRecord> events;
  for (int i = 0; i < 300; ++i) events.push_back(Event(absl::StrCat("k/", i)));
  ASSERT_TRUE(store_.Append(events, kRoutes, "", absl::ZeroDuration()).ok());  // 600 deliveries
  std::mutex mu;
  std::multiset<std::string> seen;
  std::vector<std::thread> claimers;
  for (int c = 0; c < 4; ++c) {
    claimers.emplace_back([&, c] {
      for (int round = 0; round < 50; ++round) {
        absl::StatusOr<std::vector<DeliveryRecord>> claimed =
            store_.ClaimDue(absl::StrCat("c", c), absl::Seconds(60), 25);
        ASSERT_TRUE(claimed.ok()) << claimed.status();
        if (claimed->empty()) break;
        std::lock_guard lock(mu);
        for (const auto& d : *claimed) seen.insert(absl::StrCat(d.event.sequence, d.handler));
      }
    });
  }
  for (auto& thread : claimers) thread.join();
  EXPECT_EQ(seen.size(), 600u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size());
}

TEST_F(PgEventStoreTest, RecordsDoneRetryDeadLetterAndRelease) {
  const EventRecord events[] = {Event("a"), Event("b")};
  absl::StatusOr<std::vector<EventRecord>> appended =
      store_.Append(events, kRoutes, "me", absl::Seconds(30));
  ASSERT_TRUE(appended.ok());
  const int64_t a = (*appended)[0].sequence, b = (*appended)[1].sequence;
  const absl::Time later = absl::Now() + absl::Hours(1);
  const DeliveryOutcome outcomes[] = {
      {a, "Store", Kind::kDone, {}, ""},
      {a, "Receipt", Kind::kRetry, later, "UNAVAILABLE: down"},
      {b, "Store", Kind::kDeadLetter, {}, "gave up"},
      {b, "Receipt", Kind::kRelease, {}, ""},
  };
  ASSERT_TRUE(store_.Record(outcomes).ok());
  EXPECT_EQ(*store_.CountPending(), 2);
  EXPECT_EQ(db_.QueryValue(absl::StrCat("SELECT attempts || ' ' || last_error FROM deliveries "
                                        "WHERE sequence = ",
                                        a, " AND handler = 'Receipt'")),
            "1 UNAVAILABLE: down");
  // Only the released one is due now; the retry waits for its time.
  absl::StatusOr<std::vector<DeliveryRecord>> due = store_.ClaimDue("x", absl::Seconds(30), 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ(due->at(0).event.sequence, b);
  EXPECT_EQ(due->at(0).handler, "Receipt");
  EXPECT_EQ(due->at(0).attempts, 0);

  absl::StatusOr<std::vector<DeadLetterRecord>> dead = store_.ListDeadLetters(10);
  ASSERT_TRUE(dead.ok()) << dead.status();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ(dead->at(0).handler, "Store");
  EXPECT_EQ(dead->at(0).attempts, 1);
  EXPECT_EQ(dead->at(0).reason, "gave up");
  EXPECT_EQ(dead->at(0).event.idempotency_key, "b");

  const std::pair<int64_t, std::string> ids[] = {{b, "Store"}};
  EXPECT_EQ(*store_.RetryDeadLetters(ids, false), 1);
  EXPECT_TRUE(store_.ListDeadLetters(10)->empty());
  EXPECT_EQ(db_.Count(absl::StrCat("deliveries WHERE sequence = ", b,
                                   " AND handler = 'Store' "
                                   "AND attempts = 0")),
            1);
}

TEST_F(PgEventStoreTest, RetryAllDeadLetters) {
  const EventRecord events[] = {Event("a"), Event("b")};
  auto appended = store_.Append(events, kRoutes, "me", absl::Seconds(30));
  ASSERT_TRUE(appended.ok());
  std::vector<DeliveryOutcome> dead;
  for (const auto& e : *appended) {
    for (const char* handler : {"Store", "Receipt"}) {
      dead.push_back({e.sequence, handler, Kind::kDeadLetter, {}, "x"});
    }
  }
  ASSERT_TRUE(store_.Record(dead).ok());
  EXPECT_EQ(db_.Count("dead_letters"), 4);
  EXPECT_EQ(*store_.RetryDeadLetters({}, true), 4);
  EXPECT_EQ(db_.Count("dead_letters"), 0);
  EXPECT_EQ(*store_.CountPending(), 4);
}

// Finished, pending and dead-lettered events, all old; only the finished ones are pruned, and
// the young finished one stays until it is old too.
TEST_F(PgEventStoreTest, PrunesOnlyOldEventsWhoseDeliveriesAreAllFinished) {
  const EventRecord events[] = {Event("done-old"), Event("pending-old"), Event("dead-old"),
                                Event("done-young")};
  absl::StatusOr<std::vector<EventRecord>> appended =
      store_.Append(events, kRoutes, "me", absl::Seconds(30));
  ASSERT_TRUE(appended.ok()) << appended.status();
  auto sequence_of = [&](const std::string& key) {
    for (const EventRecord& e : *appended) {
      if (e.idempotency_key == key) return e.sequence;
    }
    return int64_t{-1};
  };
  std::vector<DeliveryOutcome> outcomes;
  for (const char* key : {"done-old", "done-young"}) {
    for (const char* handler : {"Store", "Receipt"}) {
      outcomes.push_back(Outcome(sequence_of(key), handler, Kind::kDone));
    }
  }
  outcomes.push_back(Outcome(sequence_of("pending-old"), "Store", Kind::kDone));
  outcomes.push_back(Outcome(sequence_of("dead-old"), "Store", Kind::kDone));
  DeliveryOutcome dead = Outcome(sequence_of("dead-old"), "Receipt", Kind::kDeadLetter);
  dead.error = "gave up";
  outcomes.push_back(dead);
  ASSERT_TRUE(store_.Record(outcomes).ok());
  db_.Exec(
      "UPDATE events SET published_at = now() - interval '2 days' WHERE idempotency_key <> "
      "'done-young'");

  absl::StatusOr<int> pruned = store_.PruneFinished(absl::Hours(24), 100);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 1);
  EXPECT_EQ(db_.Count("events WHERE idempotency_key = 'done-old'"), 0);
  EXPECT_EQ(db_.Count("events"), 3);
  EXPECT_EQ(*store_.PruneFinished(absl::Hours(24), 100), 0) << "nothing else is both old and done";

  // Its key is forgotten with it: the same key publishes again.
  const EventRecord again[] = {Event("done-old")};
  EXPECT_EQ(store_.Append(again, kRoutes, "me", absl::Seconds(30))->size(), 1u);
}

TEST_F(PgEventStoreTest, PruneDeletesAtMostTheLimitOldestFirst) {
  std::vector<EventRecord> events;
  for (int i = 0; i < 5; ++i) events.push_back(Event(absl::StrCat("batch-", i)));
  ASSERT_TRUE(store_.Append(events, {}, "", absl::ZeroDuration()).ok());  // no routes: done
  db_.Exec("UPDATE events SET published_at = now() - interval '1 hour'");
  EXPECT_EQ(*store_.PruneFinished(absl::Minutes(1), 2), 2);
  EXPECT_EQ(db_.Count("events WHERE idempotency_key IN ('batch-0', 'batch-1')"), 0);
  EXPECT_EQ(*store_.PruneFinished(absl::Minutes(1), 10), 3);
  EXPECT_EQ(db_.Count("events"), 0);
}

}  // namespace
}  // namespace booking::storage
