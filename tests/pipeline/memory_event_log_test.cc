#include "pipeline/memory_event_log.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::pipeline {
namespace {

std::vector<domain::Event> Events(std::vector<std::string> keys) {
  std::vector<domain::Event> events;
  for (auto& key : keys) {
    domain::Event event;
    event.id = key;
    event.idempotency_key = std::move(key);
    events.push_back(std::move(event));
  }
  return events;
}

absl::StatusOr<AppendResult> AppendSync(EventLog& log, std::vector<domain::Event> events) {
  absl::StatusOr<AppendResult> out = absl::InternalError("callback not called");
  log.Append(std::move(events), [&](absl::StatusOr<AppendResult> result) { out = result; });
  return out;
}

TEST(MemoryEventLogTest, NumbersEventsInPublishOrder) {
  EventQueue queue(16);
  MemoryEventLog log(queue, {.first_sequence = 100});
  ASSERT_EQ(AppendSync(log, Events({"a", "b"}))->published, 2);
  ASSERT_EQ(AppendSync(log, Events({"c"}))->published, 1);
  std::vector<domain::Event> out;
  queue.PopBatch(out, 16, absl::ZeroDuration());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].sequence, 100);
  EXPECT_EQ(out[1].sequence, 101);
  EXPECT_EQ(out[2].sequence, 102);
}

TEST(MemoryEventLogTest, SameIdempotencyKeyPublishesOnce) {
  EventQueue queue(16);
  MemoryEventLog log(queue, {});
  ASSERT_EQ(AppendSync(log, Events({"k/1", "k/2"}))->published, 2);
  ASSERT_EQ(AppendSync(log, Events({"k/1", "k/2", "k/3"}))->published, 1);
  EXPECT_EQ(queue.size(), 3u);
}

TEST(MemoryEventLogTest, CallKeyNamesOneRequest) {
  EventQueue queue(16);
  MemoryEventLog log(queue, {});
  auto append = [&log](CallIdentity call, std::vector<domain::Event> events) {
    absl::StatusOr<AppendResult> out = absl::InternalError("callback not called");
    log.Append(std::move(call), std::move(events),
               [&](absl::StatusOr<AppendResult> result) { out = result; });
    return out;
  };
  absl::StatusOr<AppendResult> first = append({"call", "fp-1"}, Events({"call/1", "call/2"}));
  EXPECT_EQ(first->outcome, AppendResult::Outcome::kPublished);
  EXPECT_EQ(first->published, 2);
  absl::StatusOr<AppendResult> replay = append({"call", "fp-1"}, Events({"call/1", "call/2"}));
  EXPECT_EQ(replay->outcome, AppendResult::Outcome::kReplayed);
  EXPECT_EQ(replay->published, 2) << "the first answer";
  absl::StatusOr<AppendResult> other = append({"call", "fp-2"}, Events({"call/3"}));
  EXPECT_EQ(other->outcome, AppendResult::Outcome::kKeyReused);
  EXPECT_EQ(queue.size(), 2u) << "neither published anything";
}

TEST(MemoryEventLogTest, FullQueueRefusesAndRemembersNothing) {
  EventQueue queue(2);
  MemoryEventLog log(queue, {});
  absl::StatusOr<AppendResult> result = AppendSync(log, Events({"a", "b", "c"}));
  EXPECT_TRUE(absl::IsResourceExhausted(result.status()));
  EXPECT_EQ(queue.size(), 0u);
  // The refused keys were not recorded, so a retry that fits is published.
  EXPECT_EQ(AppendSync(log, Events({"a", "b"}))->published, 2);
}

TEST(MemoryEventLogTest, ForgetsKeysBeyondTheBound) {
  EventQueue queue(16);
  MemoryEventLog log(queue, {.max_idempotency_keys = 2});
  ASSERT_EQ(AppendSync(log, Events({"a", "b", "c"}))->published, 3);
  EXPECT_EQ(AppendSync(log, Events({"a"}))->published, 1) << "oldest key forgotten";
  EXPECT_EQ(AppendSync(log, Events({"c"}))->published, 0) << "newest key remembered";
}

TEST(MemoryEventLogTest, ConcurrentAppendsGetUniqueSequences) {
  EventQueue queue(100000);
  MemoryEventLog log(queue, {});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        EXPECT_TRUE(
            AppendSync(log, Events({absl::StrCat(t, "/", i, "a"), absl::StrCat(t, "/", i, "b")}))
                .ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::vector<domain::Event> out;
  queue.PopBatch(out, 100000, absl::ZeroDuration());
  ASSERT_EQ(out.size(), 4000u);
  std::vector<int64_t> sequences;
  for (const auto& event : out) sequences.push_back(event.sequence);
  std::sort(sequences.begin(), sequences.end());
  for (size_t i = 0; i < sequences.size(); ++i)
    EXPECT_EQ(sequences[i], static_cast<int64_t>(i + 1));
}

}  // namespace
}  // namespace booking::pipeline
