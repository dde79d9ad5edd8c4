#include "absl/strings/str_cat.h"
#include "common/uuid.h"
#include "delivery/event_pruner.h"
#include "gtest/gtest.h"
#include "storage/migrations.h"
#include "storage/pg_event_store.h"
#include "tests/support/test_database.h"

namespace booking::delivery {
namespace {

TEST(EventPrunerTest, OneRoundDeletesTheWholeBacklogInBatchesAndKeepsTheYoung) {
  testing::TestDatabase db;
  std::unique_ptr<storage::ConnectionPool> pool = db.MakePool(2);
  ASSERT_TRUE(storage::Migrate(*pool).ok());
  storage::PgEventStore store(*pool);
  std::vector<storage::EventRecord> events;
  for (int i = 0; i < 7; ++i) {
    events.push_back({common::NewUuid(), "Confirmed", "00000000-0000-4000-8000-000000000001",
                      absl::StrCat("key-", i), "corr", "payload"});
  }
  ASSERT_TRUE(store.Append(events).ok());  // no routes: finished
  db.Exec(
      "UPDATE events SET published_at = now() - interval '2 hours' WHERE idempotency_key "
      "<> 'key-6'");

  // A long interval: only the explicit round runs during the test.
  EventPruner pruner(
      store,
      {.retention = absl::Hours(1), .interval = absl::Hours(1), .batch = 2, .max_batches = 10});
  absl::StatusOr<long long> pruned = pruner.PruneOnce();
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 6);
  EXPECT_EQ(db.Count("events"), 1);
  EXPECT_EQ(db.Count("events WHERE idempotency_key = 'key-6'"), 1);
}

TEST(EventPrunerTest, ARoundIsBoundedByMaxBatches) {
  testing::TestDatabase db;
  std::unique_ptr<storage::ConnectionPool> pool = db.MakePool(2);
  ASSERT_TRUE(storage::Migrate(*pool).ok());
  storage::PgEventStore store(*pool);
  std::vector<storage::EventRecord> events;
  for (int i = 0; i < 10; ++i) {
    events.push_back({common::NewUuid(), "Confirmed", "00000000-0000-4000-8000-000000000001",
                      absl::StrCat("key-", i), "corr", "payload"});
  }
  ASSERT_TRUE(store.Append(events).ok());
  db.Exec("UPDATE events SET published_at = now() - interval '2 hours'");
  EventPruner pruner(
      store,
      {.retention = absl::Hours(1), .interval = absl::Hours(1), .batch = 3, .max_batches = 2});
  EXPECT_EQ(*pruner.PruneOnce(), 6);
  EXPECT_EQ(*pruner.PruneOnce(), 4);
}

}  // namespace
}  // namespace booking::delivery
