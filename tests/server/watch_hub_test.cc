// WatchHub over an in-memory step log: history before live steps with nothing lost or repeated
// in between, resume positions, the per-stream bound, and stop; also under ThreadSanitizer
// with a writer, the hub's thread and readers racing.
#include "server/watch_hub.h"

#include <atomic>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace booking::server {
namespace {

using storage::LogPosition;
using storage::StepRecord;

class MemorySteps final : public storage::StepLog {
 public:
  void Add(const std::string& ticket) {
    std::lock_guard lock(mu_);
    StepRecord step;
    step.position = {1, static_cast<int64_t>(steps_.size() + 1)};
    step.ticket_id = ticket;
    step.step = "accepted";
    steps_.push_back(step);
  }
  absl::StatusOr<LogPosition> Latest() override {
    std::lock_guard lock(mu_);
    ++reads_;
    return steps_.empty() ? LogPosition{} : steps_.back().position;
  }
  absl::StatusOr<std::vector<StepRecord>> ReadAfter(LogPosition after, int limit) override {
    return ReadRange({}, after, {UINT64_MAX, INT64_MAX}, limit);
  }
  absl::StatusOr<std::vector<StepRecord>> ReadRange(absl::Span<const std::string> ids,
                                                    LogPosition after, LogPosition upto,
                                                    int limit) override {
    std::lock_guard lock(mu_);
    ++reads_;
    std::vector<StepRecord> out;
    for (const StepRecord& step : steps_) {
      if (!(after < step.position) || upto < step.position) continue;
      if (!ids.empty() && std::find(ids.begin(), ids.end(), step.ticket_id) == ids.end()) continue;
      out.push_back(step);
      if (static_cast<int>(out.size()) == limit) break;
    }
    return out;
  }
  absl::StatusOr<LogPosition> Resume(LogPosition token) override {
    std::lock_guard lock(mu_);
    auto it = std::find_if(remapped_.begin(), remapped_.end(),
                           [&](const auto& pair) { return pair.first == token; });
    return it == remapped_.end() ? token : it->second;
  }
  // As after a rebase of the positions: `token` now means `now`.
  void Remap(LogPosition token, LogPosition now) {
    std::lock_guard lock(mu_);
    remapped_.emplace_back(token, now);
  }

  int reads() {
    std::lock_guard lock(mu_);
    return reads_;
  }

 private:
  std::mutex mu_;
  int reads_ = 0;
  std::vector<std::pair<LogPosition, LogPosition>> remapped_;
  std::vector<StepRecord> steps_;
};

std::vector<int64_t> Sequences(const std::vector<StepRecord>& steps) {
  std::vector<int64_t> out;
  for (const StepRecord& step : steps) out.push_back(step.position.sequence);
  return out;
}

TEST(WatchHubTest, NamedTicketsGetTheirHistoryThenLiveSteps) {
  MemorySteps steps;
  steps.Add("a");
  steps.Add("b");
  steps.Add("a");
  WatchHub hub(steps);
  hub.RunOnce();  // positioned at the end
  int wakes = 0;
  auto sub = hub.Subscribe({"a"}, std::nullopt, [&] { ++wakes; });
  steps.Add("a");
  steps.Add("b");
  hub.RunOnce();
  EXPECT_EQ(Sequences(sub->Take(100)), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_GE(wakes, 1);
  hub.Unsubscribe(sub);
}

TEST(WatchHubTest, EveryTicketStartsNowAndResumeGoesOnAfterItsPosition) {
  MemorySteps steps;
  steps.Add("a");
  steps.Add("b");
  WatchHub hub(steps);
  hub.RunOnce();
  auto now = hub.Subscribe({}, std::nullopt, [] {});
  EXPECT_FALSE(now->ready()) << "an idle hub has not read where now is";
  auto resumed = hub.Subscribe({}, LogPosition{1, 1}, [] {});
  EXPECT_TRUE(resumed->ready()) << "a resume has its place";
  hub.RunOnce();
  EXPECT_TRUE(now->ready());
  steps.Add("c");
  hub.RunOnce();
  EXPECT_EQ(Sequences(now->Take(100)), (std::vector<int64_t>{3}));
  EXPECT_EQ(Sequences(resumed->Take(100)), (std::vector<int64_t>{2, 3}));
}

// With no stream open the hub costs the database nothing; the first stream "from now" reads
// where the log ends, and once the last one has gone the hub is quiet again.
TEST(WatchHubTest, AnIdleHubReadsNothing) {
  MemorySteps steps;
  steps.Add("a");
  WatchHub hub(steps);
  for (int i = 0; i < 5; ++i) hub.RunOnce();
  EXPECT_EQ(steps.reads(), 0);
  auto sub = hub.Subscribe({}, std::nullopt, [] {});
  hub.RunOnce();
  EXPECT_TRUE(sub->ready());
  EXPECT_GT(steps.reads(), 0);
  hub.Unsubscribe(sub);
  hub.RunOnce();
  const int after_last = steps.reads();
  for (int i = 0; i < 5; ++i) hub.RunOnce();
  EXPECT_EQ(steps.reads(), after_last);
}

// A token from before a rebase of the positions (another cluster's tx) is taken where the log
// says it points now, on the hub's thread: taken as it is, it would be past every step.
TEST(WatchHubTest, ResumeFromATokenOlderThanARebaseGoesOnFromWhereTheLogMapsIt) {
  MemorySteps steps;
  steps.Add("a");
  steps.Add("b");
  steps.Add("a");
  steps.Remap({900000, 1}, {1, 1});
  WatchHub hub(steps);
  hub.RunOnce();
  auto resumed = hub.Subscribe({}, LogPosition{900000, 1}, [] {});
  auto named = hub.Subscribe({"a"}, LogPosition{900000, 1}, [] {});
  hub.RunOnce();
  steps.Add("a");
  hub.RunOnce();
  EXPECT_EQ(Sequences(resumed->Take(100)), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(Sequences(named->Take(100)), (std::vector<int64_t>{3, 4}));
}

TEST(WatchHubTest, AStreamBehindItsBufferIsEndedOthersGoOn) {
  MemorySteps steps;
  WatchHub hub(steps, {.buffer = 5});
  auto slow = hub.Subscribe({}, std::nullopt, [] {});
  auto fast = hub.Subscribe({}, std::nullopt, [] {});
  hub.RunOnce();  // both have their place: the end of the log
  for (int i = 0; i < 4; ++i) steps.Add("a");
  hub.RunOnce();
  EXPECT_EQ(fast->Take(100).size(), 4u);
  for (int i = 0; i < 4; ++i) steps.Add("a");
  hub.RunOnce();
  EXPECT_EQ(slow->ended().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(fast->ended().ok());
  EXPECT_EQ(fast->Take(100).size(), 4u);
  EXPECT_EQ(hub.subscribers(), 1u);
}

// A resume far behind (more steps than the queue holds) catches up a page per round as the
// reader drains, then goes on live: every step once, in order, never more queued than the bound.
TEST(WatchHubTest, AResumeFarBehindCatchesUpPageByPage) {
  MemorySteps steps;
  for (int i = 0; i < 23; ++i) steps.Add("a");
  WatchHub hub(steps, {.buffer = 5});
  hub.RunOnce();
  auto sub = hub.Subscribe({}, LogPosition{}, [] {});
  std::vector<int64_t> seen;
  for (int round = 0; round < 20 && seen.size() < 25; ++round) {
    if (round == 3) {
      steps.Add("b");
      steps.Add("b");
    }
    hub.RunOnce();
    EXPECT_LE(sub->queued(), 5u);
    for (const StepRecord& step : sub->Take(100)) seen.push_back(step.position.sequence);
  }
  std::vector<int64_t> all;
  for (int64_t i = 1; i <= 25; ++i) all.push_back(i);
  EXPECT_EQ(seen, all);
  EXPECT_TRUE(sub->ended().ok());
}

TEST(WatchHubTest, StopEndsEveryStreamAsUnavailable) {
  MemorySteps steps;
  WatchHub hub(steps);
  hub.Start();
  std::atomic<int> wakes{0};
  auto sub = hub.Subscribe({"a"}, std::nullopt, [&] { ++wakes; });
  hub.Stop();
  EXPECT_EQ(sub->ended().code(), absl::StatusCode::kUnavailable);
  EXPECT_GE(wakes.load(), 1);
  auto late = hub.Subscribe({"a"}, std::nullopt, [] {});
  EXPECT_EQ(late->ended().code(), absl::StatusCode::kUnavailable);
}

// A writer adds steps while the hub's thread hands them out and readers drain and come and go:
// each reader that stays sees every step after its start exactly once, in order.
TEST(WatchHubTest, ConcurrentWritersReadersAndSubscribersLoseNothing) {
  MemorySteps steps;
  WatchHub hub(steps, {.poll = absl::Milliseconds(1), .buffer = 100000});
  hub.Start();
  absl::SleepFor(absl::Milliseconds(20));
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < 5000; ++i) {
      steps.Add(absl::StrCat("t", i % 7));
      if (i % 100 == 0) hub.Wake();
    }
    writing = false;
  });
  std::vector<std::thread> readers;
  std::atomic<int> failures{0};
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      std::vector<std::string> ids;
      if (r % 2 == 1) ids.push_back(absl::StrCat("t", r));
      auto sub = hub.Subscribe(ids, LogPosition{}, [] {});
      std::vector<int64_t> seen;
      const absl::Time end = absl::Now() + absl::Seconds(30);
      while (absl::Now() < end) {
        for (const StepRecord& step : sub->Take(256)) seen.push_back(step.position.sequence);
        const size_t expected = r % 2 == 1 ? 5000 / 7 + (r < 5000 % 7 ? 1 : 0) : 5000;
        if (!writing && seen.size() >= expected) break;
        absl::SleepFor(absl::Microseconds(200));
      }
      for (size_t i = 1; i < seen.size(); ++i) {
        if (seen[i] <= seen[i - 1]) ++failures;
      }
      const size_t expected = r % 2 == 1 ? 5000 / 7 + (r < 5000 % 7 ? 1 : 0) : 5000;
      if (seen.size() != expected) ++failures;
      hub.Unsubscribe(sub);
    });
  }
  writer.join();
  for (std::thread& reader : readers) reader.join();
  hub.Stop();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace booking::server
