#include "common/mutex.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace booking::common {
namespace {

// Whether another thread could take `mu` now (a thread must not TryLock what it holds).
bool FreeForOthers(Mutex& mu) {
  bool taken = false;
  std::thread([&] {
    if (mu.TryLock()) {
      taken = true;
      mu.Unlock();
    }
  }).join();
  return taken;
}

TEST(MutexTest, LockAndUnlock) {
  Mutex mu;
  mu.Lock();
  EXPECT_FALSE(FreeForOthers(mu));
  mu.Unlock();
  EXPECT_TRUE(FreeForOthers(mu));
}

TEST(MutexTest, MutexLockHoldsForItsScope) {
  Mutex mu;
  {
    MutexLock lock(mu);
    mu.AssertHeld();
    EXPECT_FALSE(FreeForOthers(mu));
  }
  EXPECT_TRUE(FreeForOthers(mu));
}

struct Counter {
  Mutex mu;
  long long value ABSL_GUARDED_BY(mu) = 0;
};

TEST(MutexTest, MutexLockExcludesOtherThreads) {
  Counter counter;
  constexpr int kThreads = 4;
  constexpr int kIncrements = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        MutexLock lock(counter.mu);
        ++counter.value;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  MutexLock lock(counter.mu);
  EXPECT_EQ(counter.value, kThreads * kIncrements);
}

TEST(CondVarTest, WaitForTimesOutAndHoldsTheLockAgain) {
  Mutex mu;
  CondVar cv;
  MutexLock lock(mu);
  const absl::Duration timeout = absl::Milliseconds(50);
  const absl::Time start = absl::Now();
  // Nobody notifies; a spurious wake-up (false) only means waiting again for the rest.
  while (!cv.WaitFor(mu, timeout - (absl::Now() - start))) {
  }
  // WaitFor counts on the steady clock, absl::Now is the wall clock: allow for their drift.
  EXPECT_GE(absl::Now() - start, timeout - absl::Milliseconds(5));
  EXPECT_FALSE(FreeForOthers(mu));
}

TEST(CondVarTest, WaitUntilAPastDeadlineTimesOutAtOnce) {
  Mutex mu;
  CondVar cv;
  MutexLock lock(mu);
  EXPECT_TRUE(cv.WaitUntil(mu, absl::Now() - absl::Seconds(1)));
  EXPECT_FALSE(FreeForOthers(mu));
}

TEST(CondVarTest, AwaitForReturnsWhetherTheConditionHolds) {
  Mutex mu;
  CondVar cv;
  bool flag = false;
  MutexLock lock(mu);
  const absl::Time start = absl::Now();
  EXPECT_FALSE(cv.AwaitFor(mu, absl::Milliseconds(30), [&] { return flag; }));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(25));
  flag = true;
  EXPECT_TRUE(cv.AwaitFor(mu, absl::Hours(1), [&] { return flag; }));  // holds: no wait
}

TEST(CondVarTest, NotifyWakesAWaiterBeforeItsTimeout) {
  Mutex mu;
  CondVar cv;
  bool ready = false;  // guarded by mu
  std::thread notifier([&] {
    absl::SleepFor(absl::Milliseconds(10));
    MutexLock lock(mu);
    ready = true;
    cv.NotifyOne();
  });
  {
    MutexLock lock(mu);
    EXPECT_TRUE(cv.AwaitFor(mu, absl::InfiniteDuration(), [&] { return ready; }));
  }
  notifier.join();
}

// A bounded queue: the producer waits for room, the consumer for items.
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  void Push(int value) {
    MutexLock lock(mu_);
    changed_.Await(
        mu_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return items_.size() < capacity_; });
    items_.push_back(value);
    max_seen_ = std::max(max_seen_, items_.size());
    changed_.NotifyAll();
  }

  int Pop() {
    MutexLock lock(mu_);
    // The plain Wait, looping over the condition itself.
    while (items_.empty()) changed_.Wait(mu_);
    const int value = items_.front();
    items_.pop_front();
    changed_.NotifyAll();
    return value;
  }

  size_t max_seen() {  // the most items ever queued at once
    MutexLock lock(mu_);
    return max_seen_;
  }

 private:
  const size_t capacity_;
  Mutex mu_;
  CondVar changed_;
  std::deque<int> items_ ABSL_GUARDED_BY(mu_);
  size_t max_seen_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(CondVarTest, ProducerAndConsumerHandOverEveryItemInOrder) {
  constexpr int kItems = 5000;
  BoundedQueue queue(4);
  std::thread producer([&] {
    for (int i = 0; i < kItems; ++i) queue.Push(i);
  });
  std::vector<int> received;
  received.reserve(kItems);
  for (int i = 0; i < kItems; ++i) received.push_back(queue.Pop());
  producer.join();
  for (int i = 0; i < kItems; ++i) ASSERT_EQ(received[i], i) << "at " << i;
  EXPECT_LE(queue.max_seen(), 4u);  // the producer waited for room
}

TEST(CondVarTest, OneProducerManyConsumers) {
  constexpr int kConsumers = 3;
  constexpr int kPerConsumer = 1000;
  BoundedQueue queue(2);
  Mutex sum_mu;
  long long sum = 0;  // guarded by sum_mu
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&] {
      long long mine = 0;
      for (int i = 0; i < kPerConsumer; ++i) mine += queue.Pop();
      MutexLock lock(sum_mu);
      sum += mine;
    });
  }
  constexpr int kItems = kConsumers * kPerConsumer;
  for (int i = 1; i <= kItems; ++i) queue.Push(i);
  for (std::thread& consumer : consumers) consumer.join();
  MutexLock lock(sum_mu);
  EXPECT_EQ(sum, static_cast<long long>(kItems) * (kItems + 1) / 2);
}

}  // namespace
}  // namespace booking::common
