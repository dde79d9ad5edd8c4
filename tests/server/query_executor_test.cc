#include "server/query_executor.h"

#include <atomic>
#include <future>

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
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> ran{0};
  ASSERT_TRUE(executor.TrySubmit([&] {
    released.wait_for(std::chrono::seconds(10));
    ++ran;
  }));
  ASSERT_TRUE(executor.TrySubmit([&] { ++ran; }));
  EXPECT_FALSE(executor.TrySubmit([&] { ++ran; }));
  release.set_value();
  executor.Stop();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_FALSE(executor.TrySubmit([&] { ++ran; }));
}

}  // namespace
}  // namespace booking::server
