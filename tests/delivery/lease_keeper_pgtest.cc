// Partition leases between instances: a fair share each, hand-over only of partitions with no
// batch in flight, take-over after a crash, and everything given back on a clean stop.
#include "absl/time/clock.h"
#include "delivery/lease_keeper.h"
#include "gtest/gtest.h"
#include "storage/migrations.h"
#include "storage/pg_handler_log.h"
#include "tests/support/test_database.h"

namespace booking::delivery {
namespace {

class LeaseKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(storage::Migrate(*pool_).ok()); }

  testing::TestDatabase db_;
  std::unique_ptr<storage::ConnectionPool> pool_ = db_.MakePool(4);
  storage::PgHandlerLog log_{*pool_};
};

TEST_F(LeaseKeeperTest, TwoInstancesSettleOnHalfEachAndANewcomerWaitsForBatchesInFlight) {
  LeaseKeeper a(log_, {.owner = "a", .lease = absl::Seconds(30)});
  a.RunOnce();
  EXPECT_EQ(a.held(), 16) << "alone, it takes every partition";
  std::vector<storage::PartitionLease> busy = a.Acquire();  // a batch over all of them
  ASSERT_EQ(busy.size(), 16u);

  LeaseKeeper b(log_, {.owner = "b", .lease = absl::Seconds(30)});
  b.RunOnce();
  EXPECT_EQ(b.held(), 0) << "nothing is free yet";
  a.RunOnce();
  EXPECT_EQ(a.held(), 16) << "its extras have a batch in flight: not handed over yet";
  EXPECT_EQ(a.Acquire().size(), 8u) << "but no new batch reads them";
  a.Done(busy);
  a.Done(std::vector<storage::PartitionLease>(busy.begin(), busy.begin() + 8));
  a.RunOnce();
  EXPECT_EQ(a.held(), 8);
  b.RunOnce();
  EXPECT_EQ(b.held(), 8);
  EXPECT_EQ(db_.Count("partition_leases WHERE owner IS NULL"), 0);
}

TEST_F(LeaseKeeperTest, ASurvivorTakesOverAfterTheLeaseAndAStopGivesEverythingBack) {
  auto a = std::make_unique<LeaseKeeper>(
      log_, LeaseKeeperOptions{.owner = "a", .lease = absl::Seconds(1)});
  LeaseKeeper b(log_, {.owner = "b", .lease = absl::Seconds(1)});
  a->RunOnce();
  b.RunOnce();
  a->RunOnce();  // hands 8 over
  b.RunOnce();
  ASSERT_EQ(a->held() + b.held(), 16);
  a.reset();  // never started: a crash, as far as the leases know
  EXPECT_EQ(db_.Count("partition_leases WHERE owner = 'a'"), 8);
  absl::SleepFor(absl::Milliseconds(1200));
  b.RunOnce();
  EXPECT_EQ(b.held(), 16) << "a's leases expired, b took them";
  EXPECT_EQ(db_.Count("partition_leases WHERE owner = 'b' AND epoch >= 1"), 16);

  b.Start(nullptr);
  b.Stop();
  EXPECT_EQ(db_.Count("partition_leases WHERE owner IS NOT NULL"), 0);
  EXPECT_EQ(db_.Count("lease_owners WHERE owner = 'b'"), 0);
}

}  // namespace
}  // namespace booking::delivery
