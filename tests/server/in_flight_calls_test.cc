#include "server/in_flight_calls.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace booking::server {
namespace {

TEST(InFlightCallsTest, TheFirstGoesOnAndTheOthersGetItsOutcome) {
  InFlightCalls calls;
  std::vector<std::string> seen;
  auto waiter = [&seen](const InFlightCalls::Outcome& outcome) {
    seen.push_back(outcome.fingerprint + "/" + std::to_string(outcome.result->published));
  };
  EXPECT_TRUE(calls.Enter("k", waiter));
  EXPECT_FALSE(calls.Enter("k", waiter));
  EXPECT_FALSE(calls.Enter("k", waiter));
  EXPECT_TRUE(calls.Enter("other", waiter)) << "keys are independent";
  EXPECT_EQ(calls.keys_in_flight(), 2u);
  calls.Finish("k", {"fp", pipeline::AppendResult{3}});
  EXPECT_EQ(seen, (std::vector<std::string>{"fp/3", "fp/3"}));
  EXPECT_TRUE(calls.Enter("k", waiter)) << "after the first finished, the key is free again";
  calls.Finish("k", {"fp", pipeline::AppendResult{1}});
  calls.Finish("other", {"fp", pipeline::AppendResult{1}});
  EXPECT_EQ(calls.keys_in_flight(), 0u);
}

// Threads racing on a few keys: every call is either the first (and finishes) or a waiter that
// is answered exactly once; nothing is left behind.
TEST(InFlightCallsTest, EveryCallIsFirstOrAnsweredOnceUnderContention) {
  InFlightCalls calls;
  constexpr int kThreads = 8, kRounds = 2000;
  std::atomic<int> firsts{0}, answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const std::string key = absl::StrCat("key-", (i + t) % 3);
        if (calls.Enter(key, [&answered](const InFlightCalls::Outcome&) { ++answered; })) {
          ++firsts;
          calls.Finish(key, {"fp", pipeline::AppendResult{1}});
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(firsts.load() + answered.load(), kThreads * kRounds);
  EXPECT_EQ(calls.keys_in_flight(), 0u);
}

}  // namespace
}  // namespace booking::server
