#include "workers/worker_pool.h"

#include <pthread.h>

#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/events.h"

namespace booking::workers {
namespace {

TEST(WorkerPoolTest, ProcessesEveryEventOnceOnNamedThreads) {
  EventQueue queue(1024);
  std::mutex mu;
  std::multiset<std::string> seen;
  std::set<std::string> thread_names;
  WorkerPool pool(queue,
                  [&](std::vector<Event>& batch) {
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
  WorkerPool pool(queue,
                  [&](std::vector<Event>& batch) { processed += static_cast<int>(batch.size()); },
                  {.threads = 1, .batch_size = 4});
  auto events = testing::NumberedEvents(200);
  ASSERT_TRUE(queue.TryPushAll(events));
  pool.Start();
  EXPECT_EQ(pool.Stop(absl::Seconds(30)), 0u);
  EXPECT_EQ(processed.load(), 200);
}

TEST(WorkerPoolTest, StopGivesUpAfterTheTimeout) {
  EventQueue queue(1024);
  WorkerPool pool(queue, [&](std::vector<Event>&) { absl::SleepFor(absl::Milliseconds(50)); },
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

TEST(WorkerPoolTest, IdleStopIsQuick) {
  EventQueue queue(16);
  WorkerPool pool(queue, [](std::vector<Event>&) {}, {.threads = 2});
  pool.Start();
  const absl::Time start = absl::Now();
  EXPECT_EQ(pool.Stop(absl::Seconds(10)), 0u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

}  // namespace
}  // namespace booking::workers
