// A handler's lane over the real log: retries only what failed, isolates a poison event, gives
// up after retry_for, probes a failing API instead of hammering it.
#include <algorithm>
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

namespace booking::delivery {
namespace {

// Fails by the event's idempotency key: keys containing "poison" never succeed (not
// retryable), keys containing "flaky" fail (retryable) on their first `flaky_failures` calls,
// everything fails (retryable) while `down`.
class ScriptedHandler final : public domain::Handler {
 public:
  explicit ScriptedHandler(bool each) : each_(each) {}
  std::string_view name() const override { return "Scripted"; }
  bool reports_each() const override { return each_; }

  absl::Status Handle(absl::Span<const domain::Event* const> events) override {
    std::lock_guard lock(mu_);
    ++batches;
    for (const domain::Event* event : events) {
      absl::Status status = Decide(*event);
      if (!status.ok()) return status;
    }
    for (const domain::Event* event : events) ++done[event->idempotency_key];
    return absl::OkStatus();
  }
  void HandleEach(absl::Span<const domain::Event* const> events,
                  absl::Span<absl::Status> results) override {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < events.size(); ++i) {
      ++calls;
      order.push_back(events[i]->idempotency_key);
      results[i] = Decide(*events[i]);
      if (results[i].ok()) ++done[events[i]->idempotency_key];
    }
  }

  std::mutex mu_;
  bool down = false;
  bool api_down = false;  // fails every call saying the API is away (ApiFailure)
  bool odd_fails = true;  // keys containing "odd" fail (retryable) on their own
  std::string odd_reason = "HTTP 500 from the API";
  std::vector<std::string> order;  // keys in call order
  int flaky_failures = 2;
  int calls = 0, batches = 0;
  std::map<std::string, int> done;  // successful handlings per key
  std::map<std::string, int> failed;

 private:
  absl::Status Decide(const domain::Event& event) {
    if (down) return absl::UnavailableError("API down");
    if (api_down) return domain::ApiFailure(absl::UnavailableError("connection refused"));
    if (odd_fails && absl::StrContains(event.idempotency_key, "odd")) {
      return absl::UnavailableError(odd_reason);
    }
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
    ASSERT_TRUE(log_.Register("Scripted", {"Confirmed"}, storage::StartFrom::kEarliest).ok());
  }

  void Append(const std::vector<std::string>& keys) {
    std::vector<storage::EventRecord> events;
    for (const std::string& key : keys) {
      events.push_back({common::NewUuid(), "Confirmed", common::NewUuid(), key, "corr", "p"});
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
    options.redelivery_poll = absl::Milliseconds(20);
    options.fresh_probe_gap = absl::Milliseconds(50);
    return options;
  }

  // Runs rounds until `done` holds (or 20 s); true if it did.
  template <typename Fn>
  bool RunUntilTrue(HandlerLane& lane, Fn&& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!done() && absl::Now() < deadline) {
      if (lane.RunOnce() == 0) absl::SleepFor(absl::Milliseconds(10));
    }
    return done();
  }

  void AppendFor(const std::string& ticket, const std::vector<std::string>& keys) {
    std::vector<storage::EventRecord> events;
    for (const std::string& key : keys)
      events.push_back({common::NewUuid(), "Confirmed", ticket, key, "c", "p"});
    ASSERT_TRUE(store_.Append(events).ok());
  }

  int Done(ScriptedHandler& handler, const std::string& key) {
    std::lock_guard lock(handler.mu_);
    return handler.done[key];
  }

  testing::TestDatabase db_;
  std::unique_ptr<storage::ConnectionPool> pool_ = db_.MakePool(4);
  storage::PgEventStore store_{*pool_};
  storage::PgHandlerLog log_{*pool_};
  LeaseKeeper keeper_{log_, {.owner = "me", .lease = absl::Minutes(1)}};
};

TEST_F(HandlerLaneTest, RetriesOnlyTheEventsThatFailedAndFinishesEachOnce) {
  ScriptedHandler handler(/*each=*/true);
  HandlerLane lane(handler, {"Confirmed"}, log_, keeper_, Options());
  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i) keys.push_back(absl::StrCat(i % 5 == 0 ? "flaky-" : "ok-", i));
  Append(keys);
  // The flaky ones fail while the others succeed: each is parked and retried on its own.
  EXPECT_TRUE(RunUntilTrue(lane, [&] { return db_.Count("pending_deliveries") == 0; }));
  for (const std::string& key : keys) EXPECT_EQ(handler.done[key], 1) << key;
  // 20 first calls, 4 flaky events failing twice: their retries only.
  EXPECT_EQ(handler.calls, 20 + 4 * 2) << "succeeded events were not called again";
  EXPECT_EQ(db_.Count("pending_deliveries"), 0);
  EXPECT_EQ(db_.Count("dead_letters"), 0);
  EXPECT_EQ(lane.status().succeeded, 20);
  EXPECT_EQ(lane.status().parked_here, 4);
  EXPECT_EQ(lane.RunOnce(), 0) << "the checkpoint moved past them";
}

TEST_F(HandlerLaneTest, APoisonEventIsFoundBySplittingAndAloneBecomesADeadLetter) {
  ScriptedHandler handler(/*each=*/false);  // a batch succeeds or fails as a whole
  HandlerLane lane(handler, {"Confirmed"}, log_, keeper_, Options());
  std::vector<std::string> keys;
  for (int i = 0; i < 64; ++i) keys.push_back(absl::StrCat("k-", i));
  keys[37] = "poison-37";
  // One ticket for all, so they share a partition and one batch.
  std::vector<storage::EventRecord> events;
  for (const std::string& key : keys) {
    events.push_back(
        {common::NewUuid(), "Confirmed", "00000000-0000-4000-8000-000000000009", key, "c", "p"});
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
  HandlerLane lane(handler, {"Confirmed"}, log_, keeper_, Options(absl::Milliseconds(300)));
  Append({"a", "b", "c"});
  const absl::Time start = absl::Now();
  EXPECT_TRUE(RunUntilTrue(lane, [&] { return db_.Count("dead_letters") == 3; }));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_EQ(db_.Count("dead_letters WHERE reason LIKE 'gave up after retrying for%'"), 3);
  EXPECT_EQ(db_.Count("pending_deliveries"), 0);
}

TEST_F(HandlerLaneTest, AnOpenBreakerSendsOneProbePerBackoffAndClosesWhenItSucceeds) {
  ScriptedHandler handler(/*each=*/true);
  handler.down = true;
  LaneOptions options = Options();
  HandlerLane lane(handler, {"Confirmed"}, log_, keeper_, options);
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

TEST_F(HandlerLaneTest, AnEventTheApiRefusesAloneIsParkedAndTheOthersGoOn) {
  ScriptedHandler handler(/*each=*/true);
  HandlerLane lane(handler, {"Confirmed"}, log_, keeper_, Options());
  std::vector<std::string> keys = {"odd-0"};
  for (int i = 0; i < 50; ++i) keys.push_back(absl::StrCat("ok-", i));
  Append(keys);
  EXPECT_TRUE(RunUntilTrue(lane, [&] { return Done(handler, "ok-49") == 1; }));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(Done(handler, absl::StrCat("ok-", i)), 1) << i;
  EXPECT_EQ(Done(handler, "odd-0"), 0);
  EXPECT_EQ(db_.Count("deliveries WHERE parked_at IS NOT NULL AND last_error LIKE '%HTTP 500%'"),
            1);
  EXPECT_GE(db_.Count("ticket_steps WHERE step = 'retrying' AND next_attempt_at > at"), 1);
  EXPECT_EQ(lane.status().breaker, CircuitBreaker::State::kClosed) << "the API is fine";
  // Retried on its own schedule: a few more calls of it, none of the others.
  absl::SleepFor(absl::Milliseconds(200));
  for (int i = 0; i < 20; ++i) lane.RunOnce();
  std::lock_guard lock(handler.mu_);
  EXPECT_GT(std::count(handler.order.begin(), handler.order.end(), "odd-0"), 1);
  EXPECT_EQ(handler.calls - std::count(handler.order.begin(), handler.order.end(), "odd-0"), 50);
}

// Alone in the log, a failing event cannot be told from a failing API: the lane pauses. The
// events committed after it tell: they succeed, so it alone is parked.
TEST_F(HandlerLaneTest, ALoneFailingEventIsToldApartByTheEventsAfterIt) {
  ScriptedHandler handler(/*each=*/true);
  HandlerLane lane(handler, {"Confirmed"}, log_, keeper_, Options());
  Append({"odd-0"});
  EXPECT_TRUE(RunUntilTrue(lane, [&] {
    std::lock_guard lock(handler.mu_);
    return handler.calls >= 3;
  }));
  EXPECT_EQ(db_.Count("deliveries"), 0) << "no parking when nothing else succeeded";
  std::vector<std::string> keys;
  for (int i = 0; i < 10; ++i) keys.push_back(absl::StrCat("ok-", i));
  Append(keys);
  lane.Wake();
  EXPECT_TRUE(RunUntilTrue(lane, [&] { return Done(handler, "ok-9") == 1; }));
  EXPECT_EQ(db_.Count("deliveries WHERE parked_at IS NOT NULL"), 1);
  EXPECT_EQ(db_.Count("dead_letters"), 0);
}

TEST_F(HandlerLaneTest, LaterEventsOfAParkedTicketWaitBehindItInOrder) {
  ScriptedHandler handler(/*each=*/true);
  HandlerLane lane(handler, {"Confirmed"}, log_, keeper_, Options());
  const std::string ticket = "00000000-0000-4000-8000-0000000000aa";
  AppendFor(ticket, {"odd-first"});
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) keys.push_back(absl::StrCat("ok-", i));
  Append(keys);
  EXPECT_TRUE(RunUntilTrue(lane, [&] { return db_.Count("deliveries") == 1; }));
  AppendFor(ticket, {"same-ticket-second"});
  Append({"ok-after"});
  EXPECT_TRUE(RunUntilTrue(lane, [&] { return Done(handler, "ok-after") == 1; }));
  for (int i = 0; i < 5; ++i) lane.RunOnce();
  EXPECT_EQ(Done(handler, "same-ticket-second"), 0) << "it waits behind the parked one";
  EXPECT_EQ(db_.Count("deliveries WHERE parked_at IS NULL"), 1) << "queued, not failing";
  {
    std::lock_guard lock(handler.mu_);
    handler.odd_fails = false;  // the API accepts the odd one now
  }
  EXPECT_TRUE(RunUntilTrue(lane, [&] { return Done(handler, "same-ticket-second") == 1; }));
  EXPECT_EQ(Done(handler, "odd-first"), 1);
  std::lock_guard lock(handler.mu_);
  const auto first = std::find(handler.order.rbegin(), handler.order.rend(), "odd-first");
  const auto second = std::find(handler.order.begin(), handler.order.end(), "same-ticket-second");
  EXPECT_LT(handler.order.rend() - first - 1, second - handler.order.begin())
      << "the ticket's events reached the API in publish order";
  EXPECT_EQ(db_.Count("pending_deliveries"), 0);
}

TEST_F(HandlerLaneTest, AParkedEventBecomesADeadLetterAtRetryForAndItsTicketGoesOn) {
  ScriptedHandler handler(/*each=*/true);
  HandlerLane lane(handler, {"Confirmed"}, log_, keeper_, Options(absl::Milliseconds(300)));
  const std::string ticket = "00000000-0000-4000-8000-0000000000bb";
  AppendFor(ticket, {"odd-first", "same-ticket-second"});
  Append({"ok-0", "ok-1"});
  EXPECT_TRUE(RunUntilTrue(lane, [&] { return Done(handler, "same-ticket-second") == 1; }));
  EXPECT_EQ(db_.Count("dead_letters WHERE reason LIKE 'gave up after retrying for%HTTP 500%'"), 1);
  EXPECT_EQ(db_.Count("ticket_steps WHERE step = 'dead_lettered'"), 1);
  EXPECT_EQ(db_.Count("pending_deliveries"), 0);
}

// The API says it is away (connection refused): the lane pauses and parks nothing, however
// long it lasts, and catches up once the API is back.
TEST_F(HandlerLaneTest, AnApiThatIsAwayPausesTheLaneAndParksNothing) {
  ScriptedHandler handler(/*each=*/true);
  handler.api_down = true;
  HandlerLane lane(handler, {"Confirmed"}, log_, keeper_, Options());
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) keys.push_back(absl::StrCat("k-", i));
  Append(keys);
  lane.Start();
  long long max_parked = 0;
  for (int i = 0; i < 30; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
    max_parked = std::max(max_parked, db_.Count("deliveries"));
  }
  {
    std::lock_guard lock(handler.mu_);
    handler.api_down = false;
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (db_.Count("pending_deliveries") > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  lane.Stop();
  EXPECT_EQ(max_parked, 0);
  EXPECT_EQ(db_.Count("dead_letters"), 0);
  EXPECT_EQ(db_.Count("pending_deliveries"), 0);
  for (const std::string& key : keys) EXPECT_EQ(handler.done[key], 1) << key;
}

// A HandlerLog whose database refuses, for good, any commit that records one given event as done
// (as PostgreSQL refuses a value it cannot store).
class RefusingLog final : public storage::HandlerLog {
 public:
  explicit RefusingLog(storage::HandlerLog& log) : log_(log) {}
  std::string refused_key;
  const storage::HandlerBatchRead* seen = nullptr;
  int64_t refused_sequence = -1;
  int refusals = 0;

  absl::StatusOr<bool> Register(const std::string& h, absl::Span<const std::string> t,
                                storage::StartFrom s) override {
    return log_.Register(h, t, s);
  }
  absl::StatusOr<storage::HandlerBatchRead> Read(const std::string& h,
                                                 const storage::ReadOptions& o) override {
    absl::StatusOr<storage::HandlerBatchRead> batch = log_.Read(h, o);
    if (batch.ok()) {
      for (const auto& e : batch->events) {
        if (e.event.idempotency_key == refused_key) refused_sequence = e.event.sequence;
      }
    }
    return batch;
  }
  absl::StatusOr<storage::CommitResult> Commit(const std::string& h,
                                               const storage::HandlerProgress& p) override {
    for (const auto& done : p.finished) {
      if (done.sequence == refused_sequence) {
        ++refusals;
        return absl::InvalidArgumentError("postgres: invalid byte sequence for encoding UTF8");
      }
    }
    return log_.Commit(h, p);
  }
  absl::StatusOr<std::vector<storage::PartitionLease>> Renew(const std::string& o,
                                                             absl::Duration l) override {
    return log_.Renew(o, l);
  }
  absl::StatusOr<int> LiveOwners() override { return log_.LiveOwners(); }
  absl::StatusOr<std::vector<storage::PartitionLease>> Claim(const std::string& o, absl::Duration l,
                                                             int c) override {
    return log_.Claim(o, l, c);
  }
  absl::Status Release(const std::string& o, absl::Span<const int> p, bool l) override {
    return log_.Release(o, p, l);
  }
  absl::StatusOr<std::vector<storage::HandlerBacklog>> Backlog() override { return log_.Backlog(); }
  absl::StatusOr<std::vector<storage::ParkedSummary>> Parked() override { return log_.Parked(); }

 private:
  storage::HandlerLog& log_;
};

TEST_F(HandlerLaneTest, ACommitRefusedForGoodDeadLettersItsEventAndTheLaneGoesOn) {
  ScriptedHandler handler(/*each=*/true);
  RefusingLog refusing(log_);
  refusing.refused_key = "refused";
  HandlerLane lane(handler, {"Confirmed"}, refusing, keeper_, Options());
  const std::string ticket = "00000000-0000-4000-8000-0000000000cc";
  AppendFor(ticket, {"ok-0", "refused", "ok-1"});
  EXPECT_TRUE(RunUntilTrue(lane, [&] { return db_.Count("pending_deliveries") == 0; }));
  EXPECT_EQ(db_.Count("dead_letters WHERE reason LIKE 'the database refused to record%'"), 1);
  EXPECT_EQ(db_.Count("ticket_steps WHERE step = 'done'"), 2);
  EXPECT_LE(refusing.refusals, 2) << "refused once as a batch, once alone: never a loop";
  Append({"later"});
  EXPECT_TRUE(RunUntilTrue(lane, [&] { return Done(handler, "later") == 1; }));
}

// A lane whose lease ran out by its own clock (frozen, or cut off from the database) calls
// nothing for those partitions, even before it learns who took them.
TEST_F(HandlerLaneTest, ALaneWhoseLeaseRanOutCallsNothing) {
  ScriptedHandler handler(/*each=*/true);
  LeaseKeeper short_keeper(log_, {.owner = "frozen", .lease = absl::Milliseconds(300)});
  db_.Exec("UPDATE partition_leases SET owner = NULL, lease_until = '-infinity'");
  db_.Exec("DELETE FROM lease_owners");  // alone: it takes every partition
  short_keeper.RunOnce();
  ASSERT_EQ(short_keeper.held(), storage::kLogPartitions);
  HandlerLane lane(handler, {"Confirmed"}, log_, short_keeper, Options());
  Append({"a", "b", "c"});
  absl::SleepFor(absl::Milliseconds(400));  // no renewal: the lease has run out
  for (int i = 0; i < 5; ++i) lane.RunOnce();
  EXPECT_EQ(handler.calls, 0);
  short_keeper.RunOnce();  // renewed again: the partitions are its own once more
  EXPECT_TRUE(RunUntilTrue(lane, [&] { return Done(handler, "c") == 1; }));
}

// A handler of two types (the JetStream relay) reads them in one lane, in the log's order: a
// ticket's cancellation never reaches it before the confirmation appended first. Its lag counts
// both types; a replay picks both.
TEST_F(HandlerLaneTest, AHandlerOfTwoTypesGetsThemInLogOrder) {
  ScriptedHandler handler(/*each=*/true);
  pipeline::Router router;
  router.Register("Confirmed", &handler);
  router.Register("Canceled", &handler);
  LanePool pool(router, log_, keeper_, Options());
  ASSERT_TRUE(pool.Register(storage::StartFrom::kEarliest).ok());
  const std::string ticket = common::NewUuid();
  for (int round = 0; round < 3; ++round) {
    const std::string n = std::to_string(round);
    ASSERT_TRUE(
        store_.Append({{common::NewUuid(), "Confirmed", ticket, "confirm-" + n, "c", "p"}}).ok());
    ASSERT_TRUE(
        store_.Append({{common::NewUuid(), "Canceled", ticket, "cancel-" + n, "c", "p"}}).ok());
  }
  EXPECT_EQ(pool.Lag()["Scripted"].events, 6);
  HandlerLane lane(handler, {"Confirmed", "Canceled"}, log_, keeper_, Options());
  EXPECT_EQ(RunUntil(lane, 6), 6);
  std::lock_guard lock(handler.mu_);
  EXPECT_THAT(handler.order, ::testing::ElementsAre("confirm-0", "cancel-0", "confirm-1",
                                                    "cancel-1", "confirm-2", "cancel-2"));
}

}  // namespace
}  // namespace booking::delivery
