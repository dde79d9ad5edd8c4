#include "clients/call_pool.h"

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace booking::clients {
namespace {

TEST(CallPoolTest, RunsCallsConcurrentlyUpToItsThreads) {
  CallPool pool(8, "test");
  std::atomic<int> now{0}, most{0};
  std::vector<int> ran(40, 0);
  const absl::Time start = absl::Now();
  pool.RunAll(ran.size(), [&](size_t i) {
    const int in_flight = ++now;
    int seen = most.load();
    while (in_flight > seen && !most.compare_exchange_weak(seen, in_flight)) {
    }
    absl::SleepFor(absl::Milliseconds(50));
    --now;
    ran[i] = 1;
  });
  const absl::Duration took = absl::Now() - start;
  for (int r : ran) EXPECT_EQ(r, 1);
  EXPECT_EQ(most.load(), 8) << "bounded by the pool, and the bound is reached";
  // 40 calls of 50 ms on 8 threads: 5 waves, far below the 2 s of one after another.
  EXPECT_LT(took, absl::Milliseconds(1500));
}

TEST(CallPoolTest, SharedByManyCallersStaysBounded) {
  CallPool pool(4, "test");
  std::atomic<int> now{0}, most{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&] {
      pool.RunAll(10, [&](size_t) {
        const int in_flight = ++now;
        int seen = most.load();
        while (in_flight > seen && !most.compare_exchange_weak(seen, in_flight)) {
        }
        absl::SleepFor(absl::Milliseconds(5));
        --now;
      });
    });
  }
  for (auto& caller : callers) caller.join();
  EXPECT_LE(most.load(), 4);
}

}  // namespace
}  // namespace booking::clients
