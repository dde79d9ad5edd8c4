#include "common/periodic_task.h"

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace booking::common {
namespace {

TEST(PeriodicTaskTest, RunNowReturnsAfterARunThatBeganAfterTheCall) {
  std::atomic<int> seen{0};
  std::atomic<int> value{0};
  PeriodicTask task("test-task", absl::Hours(1), [&] { seen.store(value.load()); });
  task.Start();
  for (int i = 1; i <= 20; ++i) {
    value.store(i);
    ASSERT_TRUE(task.RunNow());
    EXPECT_EQ(seen.load(), i) << "the run saw what was set before RunNow";
  }
}

TEST(PeriodicTaskTest, RunNowWaitsForTheRunAfterOneInProgress) {
  std::atomic<bool> release{false};
  std::atomic<int> runs{0};
  PeriodicTask task("test-task", absl::Hours(1), [&] {
    ++runs;
    while (runs.load() == 1 && !release.load()) absl::SleepFor(absl::Milliseconds(1));
  });
  task.Start();
  task.Wake();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (runs.load() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(runs.load(), 1);
  std::thread releaser([&] {
    absl::SleepFor(absl::Milliseconds(50));
    release.store(true);
  });
  ASSERT_TRUE(task.RunNow());
  EXPECT_EQ(runs.load(), 2) << "the run in progress at the call does not count";
  releaser.join();
}

TEST(PeriodicTaskTest, RunNowGivesUpWhenStoppedOrNotRunning) {
  PeriodicTask idle("test-task", absl::Hours(1), [] {});
  EXPECT_FALSE(idle.RunNow(absl::Milliseconds(50))) << "never started";
  PeriodicTask task("test-task", absl::Hours(1), [] {});
  task.Start();
  task.Stop();
  EXPECT_FALSE(task.RunNow(absl::Seconds(5)));
}

}  // namespace
}  // namespace booking::common
