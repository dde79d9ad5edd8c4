#include "server/completion_waiter.h"

#include <atomic>
#include <future>
#include <mutex>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace booking::server {
namespace {

using State = storage::HandlerState::State;
using Level = CompletionWaiter::Level;

// Progress the test sets by hand; counts the reads.
class FakeProgress : public storage::ProgressReader {
 public:
  absl::StatusOr<std::vector<storage::HandlerState>> Read(
      absl::Span<const std::string> keys) override {
    ++reads;
    std::lock_guard lock(mu);
    if (!error.ok()) return error;
    std::vector<storage::HandlerState> out;
    for (const storage::HandlerState& state : states) {
      for (const std::string& key : keys) {
        if (state.idempotency_key == key) out.push_back(state);
      }
    }
    return out;
  }
  void Set(const std::string& key, const std::string& handler, State state) {
    std::lock_guard lock(mu);
    for (storage::HandlerState& existing : states) {
      if (existing.idempotency_key == key && existing.handler == handler) {
        existing.state = state;
        return;
      }
    }
    states.push_back({key, "ticket-" + key, handler, state});
  }

  std::mutex mu;
  std::vector<storage::HandlerState> states;
  absl::Status error;
  std::atomic<int> reads{0};
};

storage::HandlerState S(const std::string& key, const std::string& handler, State state) {
  return {key, "t", handler, state};
}

TEST(CompletionWaiterTest, JudgesStoredByTheStoringHandlersAndCompletedByAll) {
  FakeProgress progress;
  CompletionWaiter waiter(progress, {"StoreTickets"});
  const std::vector<storage::HandlerState> stored_only = {S("k1", "StoreTickets", State::kFinished),
                                                          S("k1", "IssueReceipt", State::kPending)};
  EXPECT_TRUE(waiter.Judge(Level::kStored, 1, stored_only).reached);
  EXPECT_FALSE(waiter.Judge(Level::kCompleted, 1, stored_only).reached);
  EXPECT_FALSE(waiter.Judge(Level::kCompleted, 1, stored_only).final);
  // A dead letter is done with for COMPLETED, and makes STORED unreachable (final, not reached).
  const std::vector<storage::HandlerState> dead = {S("k1", "StoreTickets", State::kDeadLettered),
                                                   S("k1", "IssueReceipt", State::kFinished)};
  EXPECT_TRUE(waiter.Judge(Level::kCompleted, 1, dead).reached);
  const CompletionWaiter::Verdict stored = waiter.Judge(Level::kStored, 1, dead);
  EXPECT_FALSE(stored.reached);
  EXPECT_TRUE(stored.final);
  // Every event of the call counts: one missing (not read yet) is not reached.
  EXPECT_FALSE(waiter.Judge(Level::kStored, 2, stored_only).reached);
}

TEST(CompletionWaiterTest, AnswersWhenReachedFromThePollingThread) {
  FakeProgress progress;
  progress.Set("k1", "StoreTickets", State::kPending);
  progress.Set("k2", "StoreTickets", State::kPending);
  // An interval that never comes: the test steps every poll itself.
  CompletionWaiter waiter(progress, {"StoreTickets"}, absl::Hours(1));
  waiter.Start();
  std::promise<CompletionWaiter::Outcome> answered;
  waiter.Wait({"k1", "k2"}, Level::kStored, absl::Now() + absl::Seconds(30),
              [&](CompletionWaiter::Outcome outcome) { answered.set_value(std::move(outcome)); });
  std::future<CompletionWaiter::Outcome> answer = answered.get_future();
  ASSERT_TRUE(waiter.PollNow());
  EXPECT_EQ(answer.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  progress.Set("k1", "StoreTickets", State::kFinished);
  ASSERT_TRUE(waiter.PollNow());
  EXPECT_EQ(answer.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "one of two events is not the call";
  progress.Set("k2", "StoreTickets", State::kFinished);
  ASSERT_TRUE(waiter.PollNow());
  ASSERT_EQ(answer.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "answered by the poll that saw it";
  const CompletionWaiter::Outcome outcome = answer.get();
  EXPECT_TRUE(outcome.reached);
  EXPECT_EQ(outcome.states.size(), 2u);
  EXPECT_EQ(waiter.waiting(), 0u);
}

TEST(CompletionWaiterTest, TheDeadlineAnswersWithWhatIsKnown) {
  FakeProgress progress;
  progress.Set("k1", "StoreTickets", State::kFinished);
  progress.Set("k1", "IssueReceipt", State::kPending);
  CompletionWaiter waiter(progress, {"StoreTickets"}, absl::Milliseconds(5));
  waiter.Start();
  std::promise<CompletionWaiter::Outcome> answered;
  const absl::Time start = absl::Now();
  waiter.Wait({"k1"}, Level::kCompleted, start + absl::Milliseconds(200),
              [&](CompletionWaiter::Outcome outcome) { answered.set_value(std::move(outcome)); });
  std::future<CompletionWaiter::Outcome> answer = answered.get_future();
  ASSERT_EQ(answer.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  const CompletionWaiter::Outcome outcome = answer.get();
  EXPECT_FALSE(outcome.reached);
  ASSERT_EQ(outcome.states.size(), 2u);
}

TEST(CompletionWaiterTest, NoCallWaitingMeansNoReadsAndStopAnswersEveryone) {
  FakeProgress progress;
  progress.error = absl::UnavailableError("database away");
  CompletionWaiter waiter(progress, {"StoreTickets"}, absl::Hours(1));
  waiter.Start();
  ASSERT_TRUE(waiter.PollNow());
  EXPECT_EQ(progress.reads.load(), 0);
  std::atomic<int> answered{0};
  for (int i = 0; i < 10; ++i) {
    waiter.Wait({"k" + std::to_string(i)}, Level::kStored, absl::Now() + absl::Hours(1),
                [&](CompletionWaiter::Outcome outcome) {
                  EXPECT_FALSE(outcome.reached);
                  ++answered;
                });
  }
  ASSERT_TRUE(waiter.PollNow());
  EXPECT_GT(progress.reads.load(), 0) << "read errors keep the calls waiting";
  EXPECT_EQ(answered.load(), 0);
  waiter.Stop();
  EXPECT_EQ(answered.load(), 10);
  // After Stop, a new call is answered at once.
  waiter.Wait({"late"}, Level::kStored, absl::Now() + absl::Hours(1),
              [&](CompletionWaiter::Outcome) { ++answered; });
  EXPECT_EQ(answered.load(), 11);
}

}  // namespace
}  // namespace booking::server
