#include "common/reservation.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace booking::common {
namespace {

TEST(ReservationTest, TakesUpToTheLimitAndGivesBackOnceWhenDestroyed) {
  std::atomic<size_t> counter{0};
  std::optional<Reservation> a = Reservation::TryTake(counter, 6, 10);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(counter.load(), 6u);
  EXPECT_FALSE(Reservation::TryTake(counter, 5, 10).has_value()) << "would pass the limit";
  EXPECT_EQ(counter.load(), 6u) << "a refused take leaves the count alone";
  {
    std::optional<Reservation> b = Reservation::TryTake(counter, 4, 10);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(counter.load(), 10u);
  }
  EXPECT_EQ(counter.load(), 6u);
  a->Reset();
  a->Reset();  // at most once
  EXPECT_FALSE(a->held());
  EXPECT_EQ(counter.load(), 0u);
}

TEST(ReservationTest, MovingHandsTheShareOverWithoutGivingItBack) {
  std::atomic<size_t> counter{0};
  Reservation moved_to;
  {
    std::optional<Reservation> taken = Reservation::TryTake(counter, 3, 3);
    ASSERT_TRUE(taken.has_value());
    moved_to = *std::move(taken);
  }
  EXPECT_TRUE(moved_to.held());
  EXPECT_EQ(counter.load(), 3u);
  moved_to = Reservation();  // assigning gives the old share back
  EXPECT_EQ(counter.load(), 0u);
}

TEST(ReservationTest, ConcurrentTakesNeverPassTheLimit) {
  std::atomic<size_t> counter{0};
  std::atomic<size_t> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        std::optional<Reservation> slot = Reservation::TryTake(counter, 1, 3);
        if (!slot.has_value()) continue;
        size_t seen = counter.load();
        size_t prev = most.load();
        while (seen > prev && !most.compare_exchange_weak(prev, seen)) {
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(most.load(), 3u);
  EXPECT_EQ(counter.load(), 0u);
}

}  // namespace
}  // namespace booking::common
