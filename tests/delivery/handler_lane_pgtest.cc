// A handler's lane over the real log: retries only what failed, isolates a poison event, gives
// up after retry_for, probes a failing API instead of hammering it.
#include <map>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/uuid.h"
#include "delivery/handler_lane.h"
#include "delivery/lane_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/migrations.h"
#include "storage/pg_event_store.h"
#include "storage/pg_handler_log.h"
#include "tests/support/test_database.h"

namespace booking::workers {
namespace {

// Fails by the event's idempotency key: keys containing "poison" never succeed (not
// retryable), keys containing "flaky" fail (retryable) on their first `flaky_failures` calls,
// everything fails (retryable) while `down`.
class ScriptedHandler final : public Handler {
 public:
  explicit ScriptedHandler(bool each) : each_(each) {}
  std::string_view name() const override { return "Scripted"; }
  bool reports_each() const override { return each_; }

  absl::Status Handle(absl::Span<const Event* const> events) override {
    std::lock_guard lock(mu_);
    ++batches;
    for (const Event* event : events) {
      absl::Status status = Decide(*event);
      if (!status.ok()) return status;
    }
    for (const Event* event : events) ++done[event->idempotency_key];
    return absl::OkStatus();
  }
  void HandleEach(absl::Span<const Event* const> events,
                  absl::Span<absl::Status> results) override {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < events.size(); ++i) {
      ++calls;
      results[i] = Decide(*events[i]);
      if (results[i].ok()) ++done[events[i]->idempotency_key];
    }
  }

  std::mutex mu_;
  bool down = false;
  int flaky_failures = 2;
  int calls = 0, batches = 0;
  std::map<std::string, int> done;  // successful handlings per key
  std::map<std::string, int> failed;

 private:
  absl::Status Decide(const Event& event) {
    if (down) return absl::UnavailableError("API down");
    if (absl::StrContains(event.idempotency_key, "poison")) {
      return absl::InvalidArgumentError("cannot handle this one");
    }
    if (absl::StrContains(event.idempotency_key, "flaky") &&
        failed[event.idempotency_key]++ < flaky_failures) {
      return absl::UnavailableError("try later");
    }
    return absl::OkStatus();
  }
  const bool each_;
};

class HandlerLaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(storage::Migrate(*pool_).ok());
    keeper_.RunOnce();
    ASSERT_EQ(keeper_.held(), storage::kLogPartitions);
    ASSERT_TRUE(log_.Register("Scripted", "Confirmed", storage::StartFrom::kEarliest).ok());
  }

  void Append(const std::vector<std::string>& keys) {
    std::vector<storage::EventRecord> events;
    for (const std::string& key : keys) {
      events.push_back({NewUuid(), "Confirmed", NewUuid(), key, "corr", "p"});
    }
    ASSERT_TRUE(store_.Append(events).ok());
  }

  // Runs rounds until `expected` events were read. The readers wait for every transaction in
  // flight on the server, other tests' included, so one round may find nothing yet.
  int RunUntil(HandlerLane& lane, int expected) {
    int read = 0;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (read < expected && absl::Now() < deadline) {
      const int n = lane.RunOnce();
      if (n == 0) absl::SleepFor(absl::Milliseconds(20));
      read += n;
    }
    return read;
  }

  LaneOptions Options(absl::Duration retry_for = absl::Hours(1)) {
    LaneOptions options;
    options.retry = {.first_delay = absl::Milliseconds(10),
                     .max_delay = absl::Milliseconds(40),
                     .retry_for = retry_for,
                     .breaker_failures = 3};
    return options;
  }

  testing::TestDatabase db_;
  std::unique_ptr<storage::ConnectionPool> pool_ = db_.MakePool(4);
  storage::PgEventStore store_{*pool_};
  storage::PgHandlerLog log_{*pool_};
  LeaseKeeper keeper_{log_, {.owner = "me", .lease = absl::Minutes(1)}};
};

TEST_F(HandlerLaneTest, RetriesOnlyTheEventsThatFailedAndFinishesEachOnce) {
  ScriptedHandler handler(/*each=*/true);
  HandlerLane lane(handler, "Confirmed", log_, keeper_, Options());
  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i) keys.push_back(absl::StrCat(i % 5 == 0 ? "flaky-" : "ok-", i));
  Append(keys);
  EXPECT_EQ(RunUntil(lane, 20), 20);
  for (const std::string& key : keys) EXPECT_EQ(handler.done[key], 1) << key;
  // 20 first calls, 4 flaky events failing twice: their retries only.
  EXPECT_EQ(handler.calls, 20 + 4 * 2) << "succeeded events were not called again";
  EXPECT_EQ(db_.Count("pending_deliveries"), 0);
  EXPECT_EQ(db_.Count("dead_letters"), 0);
  EXPECT_EQ(lane.status().succeeded, 20);
  EXPECT_EQ(lane.RunOnce(), 0) << "the checkpoint moved past them";
}

TEST_F(HandlerLaneTest, APoisonEventIsFoundBySplittingAndAloneBecomesADeadLetter) {
  ScriptedHandler handler(/*each=*/false);  // a batch succeeds or fails as a whole
  HandlerLane lane(handler, "Confirmed", log_, keeper_, Options());
  std::vector<std::string> keys;
  for (int i = 0; i < 64; ++i) keys.push_back(absl::StrCat("k-", i));
  keys[37] = "poison-37";
  // One ticket for all, so they share a partition and one batch.
  std::vector<storage::EventRecord> events;
  for (const std::string& key : keys) {
    events.push_back(
        {NewUuid(), "Confirmed", "00000000-0000-4000-8000-000000000009", key, "c", "p"});
  }
  ASSERT_TRUE(store_.Append(events).ok());
  EXPECT_EQ(RunUntil(lane, 64), 64);
  for (const std::string& key : keys) {
    EXPECT_EQ(handler.done[key], key == "poison-37" ? 0 : 1) << key;
  }
  EXPECT_LE(handler.batches, 1 + 2 * 7) << "halving, not one by one";
  EXPECT_EQ(db_.Count("dead_letters"), 1);
  EXPECT_EQ(db_.QueryValue("SELECT e.idempotency_key FROM dead_letters d JOIN events e USING "
                           "(sequence)"),
            "poison-37");
  EXPECT_EQ(db_.Count("pending_deliveries"), 0);
}

TEST_F(HandlerLaneTest, GivesUpAfterRetryForAndRecordsDeadLetters) {
  ScriptedHandler handler(/*each=*/true);
  handler.down = true;
  HandlerLane lane(handler, "Confirmed", log_, keeper_, Options(absl::Milliseconds(300)));
  Append({"a", "b", "c"});
  const absl::Time start = absl::Now();
  EXPECT_EQ(RunUntil(lane, 3), 3);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_EQ(db_.Count("dead_letters WHERE reason LIKE 'gave up after retrying for%'"), 3);
  EXPECT_EQ(db_.Count("pending_deliveries"), 0);
}

TEST_F(HandlerLaneTest, AnOpenBreakerSendsOneProbePerBackoffAndClosesWhenItSucceeds) {
  ScriptedHandler handler(/*each=*/true);
  handler.down = true;
  LaneOptions options = Options();
  HandlerLane lane(handler, "Confirmed", log_, keeper_, options);
  std::vector<std::string> keys;
  for (int i = 0; i < 50; ++i) keys.push_back(absl::StrCat("k-", i));
  Append(keys);
  lane.Start();
  // The first round tries a whole chunk (32 calls), however long a loaded machine takes to
  // get there.
  auto calls = [&handler] {
    std::lock_guard lock(handler.mu_);
    return handler.calls;
  };
  const absl::Time first_round_deadline = absl::Now() + absl::Seconds(30);
  while (calls() < 32 && absl::Now() < first_round_deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const int first_round = calls();
  EXPECT_GE(first_round, 32);
  // Then one probe per backoff (10-40 ms): over 600 ms far fewer than a chunk a round.
  absl::SleepFor(absl::Milliseconds(600));
  int probes;
  {
    std::lock_guard lock(handler.mu_);
    probes = handler.calls - first_round;
    handler.down = false;
  }
  EXPECT_LE(probes, 60);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (db_.Count("pending_deliveries") > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  lane.Stop();
  EXPECT_EQ(db_.Count("pending_deliveries"), 0);
  for (const std::string& key : keys) EXPECT_EQ(handler.done[key], 1) << key;
  EXPECT_EQ(lane.status().breaker, CircuitBreaker::State::kClosed);
  EXPECT_EQ(db_.Count("dead_letters"), 0);
}

// Checkpoints are positions among one type's events: a handler for two types is refused at
// start, naming it, before any lane runs.
TEST_F(HandlerLaneTest, APoolRefusesAHandlerRegisteredForTwoTypes) {
  ScriptedHandler handler(/*each=*/true);
  Router router;
  router.Register("Confirmed", &handler);
  router.Register("Canceled", &handler);
  LanePool pool(router, log_, keeper_, Options());
  absl::Status status = pool.Start(storage::StartFrom::kEarliest);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("Scripted"));
  EXPECT_TRUE(pool.Status().empty());
}

}  // namespace
}  // namespace booking::workers
