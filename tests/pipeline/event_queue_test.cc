#include "pipeline/event_queue.h"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/events.h"

namespace booking::pipeline {
namespace {

TEST(EventQueueTest, PushesAndPopsInOrderForOneProducer) {
  EventQueue queue(8);
  auto events = testing::NumberedEvents(5);
  ASSERT_TRUE(queue.TryPushAll(events));
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(queue.size(), 5u);
  std::vector<domain::Event> out;
  EXPECT_EQ(queue.PopBatch(out, 3, absl::ZeroDuration()), 3u);
  EXPECT_EQ(queue.PopBatch(out, 10, absl::ZeroDuration()), 2u);
  ASSERT_EQ(out.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(out[i].id, absl::StrCat(i));
  EXPECT_EQ(queue.size(), 0u);
}

TEST(EventQueueTest, RefusesWholeBatchBeyondCapacity) {
  EventQueue queue(4);
  auto three = testing::NumberedEvents(3);
  ASSERT_TRUE(queue.TryPushAll(three));
  auto two = testing::NumberedEvents(2, 3);
  EXPECT_FALSE(queue.TryPushAll(two));
  EXPECT_EQ(two.size(), 2u) << "a refused batch stays with the caller";
  EXPECT_EQ(two[0].id, "3");
  EXPECT_EQ(queue.size(), 3u);
  auto one = testing::NumberedEvents(1, 3);
  EXPECT_TRUE(queue.TryPushAll(one));
}

TEST(EventQueueTest, PopWaitsAtMostTheTimeout) {
  EventQueue queue(4);
  std::vector<domain::Event> out;
  const absl::Time start = absl::Now();
  EXPECT_EQ(queue.PopBatch(out, 4, absl::Milliseconds(50)), 0u);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(40));
  EXPECT_TRUE(out.empty());
}

TEST(EventQueueTest, PopWakesOnPush) {
  EventQueue queue(4);
  std::thread producer([&] {
    absl::SleepFor(absl::Milliseconds(20));
    auto events = testing::NumberedEvents(1);
    queue.TryPushAll(events);
  });
  std::vector<domain::Event> out;
  EXPECT_EQ(queue.PopBatch(out, 4, absl::Seconds(10)), 1u);
  producer.join();
}

// Many producers and consumers: every event arrives exactly once and the bound always holds.
TEST(EventQueueTest, ConcurrentProducersAndConsumersLoseNothing) {
  constexpr int kProducers = 4;
  constexpr int kConsumers = 4;
  constexpr int kPerProducer = 20000;
  constexpr size_t kCapacity = 256;
  EventQueue queue(kCapacity);
  std::atomic<int> consumed{0};
  std::atomic<bool> bound_broken{false};
  std::mutex mu;
  std::multiset<std::string> seen;

  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      int sent = 0;
      const absl::Time deadline = absl::Now() + absl::Seconds(60);
      while (sent < kPerProducer && absl::Now() < deadline) {
        const int n = std::min(1 + sent % 7, kPerProducer - sent);
        std::vector<domain::Event> batch(n);
        for (int i = 0; i < n; ++i) batch[i].id = absl::StrCat(p, "-", sent + i);
        if (queue.TryPushAll(batch)) {
          sent += n;
        } else {
          std::this_thread::yield();
        }
        if (queue.size() > kCapacity) bound_broken = true;
      }
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      std::vector<domain::Event> out;
      const absl::Time deadline = absl::Now() + absl::Seconds(60);
      while (consumed.load() < kProducers * kPerProducer && absl::Now() < deadline) {
        out.clear();
        const size_t got = queue.PopBatch(out, 32, absl::Milliseconds(10));
        if (got == 0) continue;
        consumed += static_cast<int>(got);
        std::lock_guard lock(mu);
        for (auto& event : out) seen.insert(std::move(event.id));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_FALSE(bound_broken.load());
  EXPECT_EQ(consumed.load(), kProducers * kPerProducer);
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "an event was delivered twice";
  EXPECT_EQ(unique.size(), static_cast<size_t>(kProducers * kPerProducer));
  EXPECT_EQ(queue.size(), 0u);
}

}  // namespace
}  // namespace booking::pipeline
