#include "pipeline/worker_pool.h"

#include <pthread.h>

#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/events.h"

namespace booking::pipeline {
namespace {

TEST(WorkerPoolTest, ProcessesEveryEventOnceOnNamedThreads) {
  EventQueue queue(1024);
  std::mutex mu;
  std::multiset<std::string> seen;
  std::set<std::string> thread_names;
  WorkerPool pool(queue,
                  [&](std::vector<domain::Event>& batch) {
                    char name[16] = {};
                    pthread_getname_np(pthread_self(), name, sizeof(name));
                    std::lock_guard lock(mu);
                    thread_names.insert(name);
                    for (auto& event : batch) seen.insert(event.id);
                  },
                  {.threads = 3,
                   .batch_size = 16,
                   .poll_interval = absl::Milliseconds(10),
                   .thread_name = "wtest"});
  pool.Start();
  for (int i = 0; i < 100; ++i) {
    auto events = testing::NumberedEvents(10, i * 10);
    ASSERT_TRUE(queue.TryPushAll(events));
  }
  EXPECT_EQ(pool.Stop(absl::Seconds(30)), 0u);
  EXPECT_EQ(pool.processed(), 1000);
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 1000u);
  for (const auto& name : thread_names) EXPECT_THAT(name, ::testing::StartsWith("wtest-"));
}

TEST(WorkerPoolTest, StopDrainsQueuedEventsWithinTheTimeout) {
  EventQueue queue(1024);
  std::atomic<int> processed{0};
  WorkerPool pool(
      queue,
      [&](std::vector<domain::Event>& batch) { processed += static_cast<int>(batch.size()); },
      {.threads = 1, .batch_size = 4});
  auto events = testing::NumberedEvents(200);
  ASSERT_TRUE(queue.TryPushAll(events));
  pool.Start();
  EXPECT_EQ(pool.Stop(absl::Seconds(30)), 0u);
  EXPECT_EQ(processed.load(), 200);
}

TEST(WorkerPoolTest, StopGivesUpAfterTheTimeout) {
  EventQueue queue(1024);
  WorkerPool pool(queue,
                  [&](std::vector<domain::Event>&) { absl::SleepFor(absl::Milliseconds(50)); },
                  {.threads = 1, .batch_size = 1});
  auto events = testing::NumberedEvents(100);
  ASSERT_TRUE(queue.TryPushAll(events));
  pool.Start();
  const absl::Time start = absl::Now();
  const size_t left = pool.Stop(absl::Milliseconds(200));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_GT(left, 0u);
  EXPECT_LT(left, 100u);
}

// Events that trickle in one at a time end up in one batch when the worker lingers for them.
TEST(WorkerPoolTest, LingerCollectsEventsArrivingAfterTheFirstIntoOneBatch) {
  EventQueue queue(64);
  std::mutex mu;
  std::vector<size_t> sizes;
  WorkerPool pool(queue,
                  [&](std::vector<domain::Event>& batch) {
                    std::lock_guard lock(mu);
                    sizes.push_back(batch.size());
                  },
                  {.threads = 1, .batch_size = 8, .linger = absl::Seconds(2)});
  pool.Start();
  for (int i = 0; i < 8; ++i) {
    auto events = testing::NumberedEvents(1, i);
    ASSERT_TRUE(queue.TryPushAll(events));
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(pool.Stop(absl::Seconds(10)), 0u);
  std::lock_guard lock(mu);
  // A full batch ends the linger at once rather than at its deadline.
  EXPECT_THAT(sizes, ::testing::ElementsAre(8u));
}

TEST(WorkerPoolTest, LingerEndsAtItsDeadlineWithAPartialBatch) {
  EventQueue queue(64);
  std::atomic<int> batches{0};
  std::atomic<int> processed{0};
  WorkerPool pool(queue,
                  [&](std::vector<domain::Event>& batch) {
                    ++batches;
                    processed += static_cast<int>(batch.size());
                  },
                  {.threads = 1, .batch_size = 100, .linger = absl::Milliseconds(50)});
  pool.Start();
  auto events = testing::NumberedEvents(3);
  ASSERT_TRUE(queue.TryPushAll(events));
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (processed.load() < 3 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(processed.load(), 3);
  EXPECT_EQ(batches.load(), 1);
  EXPECT_EQ(pool.Stop(absl::Seconds(10)), 0u);
}

TEST(WorkerPoolTest, IdleStopIsQuick) {
  EventQueue queue(16);
  WorkerPool pool(queue, [](std::vector<domain::Event>&) {}, {.threads = 2});
  pool.Start();
  const absl::Time start = absl::Now();
  EXPECT_EQ(pool.Stop(absl::Seconds(10)), 0u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

}  // namespace
}  // namespace booking::pipeline
