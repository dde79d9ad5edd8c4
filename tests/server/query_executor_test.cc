#include "server/query_executor.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace booking::server {
namespace {

TEST(QueryExecutorTest, RunsTasks) {
  QueryExecutor executor(2, 100);
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(executor.TrySubmit([&] { ++ran; }));
  executor.Stop();
  EXPECT_EQ(ran.load(), 50);
}

TEST(QueryExecutorTest, RefusesBeyondMaxPendingAndAfterStop) {
  QueryExecutor executor(1, 2);
  absl::Notification release;
  std::atomic<int> ran{0};
  ASSERT_TRUE(executor.TrySubmit([&] {
    release.WaitForNotificationWithTimeout(absl::Seconds(10));
    ++ran;
  }));
  ASSERT_TRUE(executor.TrySubmit([&] { ++ran; }));
  EXPECT_FALSE(executor.TrySubmit([&] { ++ran; }));
  release.Notify();
  executor.Stop();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_FALSE(executor.TrySubmit([&] { ++ran; }));
}

}  // namespace
}  // namespace booking::server
