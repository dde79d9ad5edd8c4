// The durable event log on a real PostgreSQL: group commit, publish order, idempotency, the
// handlers' wake-up, and the writer's bound.
#include <future>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "delivery/durable_event_log.h"
#include "gtest/gtest.h"
#include "storage/migrations.h"
#include "storage/pg_errors.h"
#include "storage/pg_event_store.h"
#include "tests/support/events.h"
#include "tests/support/test_database.h"

namespace booking::delivery {
namespace {

domain::Event NewEvent(int i, const std::string& key_prefix = "k") {
  char id[37];
  std::snprintf(id, sizeof(id), "5a1f3c9e-0b7d-4e2a-9c11-%012d", i);
  domain::Event event = testing::TicketEvent(id, "confirmed", 0);
  event.idempotency_key = absl::StrCat(key_prefix, "/", i);
  return event;
}

absl::StatusOr<pipeline::AppendResult> AppendAndWait(pipeline::EventLog& log,
                                                     std::vector<domain::Event> events) {
  std::promise<absl::StatusOr<pipeline::AppendResult>> promise;
  auto future = promise.get_future();
  log.Append(std::move(events), [&promise](absl::StatusOr<pipeline::AppendResult> result) {
    promise.set_value(std::move(result));
  });
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return absl::DeadlineExceededError("append callback never ran");
  }
  return future.get();
}

// A store whose appends fail with a given status.
class FailingStore final : public storage::EventStore {
 public:
  explicit FailingStore(absl::Status status) : status_(std::move(status)) {}
  using storage::EventStore::Append;
  absl::StatusOr<storage::AppendOutcome> Append(absl::Span<const storage::CallRecord>,
                                                absl::Span<const storage::EventRecord>,
                                                absl::Span<const int>) override {
    return status_;
  }
  absl::StatusOr<storage::DeadLetterPage> ListDeadLetters(const storage::DeadLetterFilter&,
                                                          int) override {
    return status_;
  }
  absl::StatusOr<int> RetryDeadLetters(absl::Span<const std::pair<int64_t, std::string>>,
                                       bool) override {
    return status_;
  }
  absl::StatusOr<int> RetryMatching(const storage::DeadLetterFilter&, bool) override {
    return status_;
  }
  absl::StatusOr<storage::ReplayOutcome> Replay(const std::string&, const storage::ReplayRange&,
                                                int64_t) override {
    return status_;
  }
  absl::StatusOr<int64_t> CountPending() override { return status_; }
  absl::StatusOr<int> PruneFinished(absl::Duration, int) override { return status_; }
  absl::StatusOr<int> SweepOrphans() override { return status_; }

 private:
  absl::Status status_;
};

// A commit lost mid-flight may have happened: the caller is told so, and that a retry with the
// same key is safe; a commit that failed before anything was sent says nothing was published.
TEST(DurableEventLogErrorsTest, UnknownCommitOutcomeIsSaidSo) {
  FailingStore lost(storage::MarkOutcomeUnknown(
      absl::UnavailableError("postgres connection lost: server closed the connection")));
  DurableEventLog log(lost, {});
  absl::StatusOr<pipeline::AppendResult> result = AppendAndWait(log, {NewEvent(1)});
  ASSERT_TRUE(absl::IsUnavailable(result.status())) << result.status();
  EXPECT_NE(result.status().message().find("outcome is unknown"), std::string::npos)
      << result.status();
  EXPECT_NE(result.status().message().find("same idempotency key"), std::string::npos);

  FailingStore refused(absl::UnavailableError("postgres connection lost: could not connect"));
  DurableEventLog log2(refused, {});
  result = AppendAndWait(log2, {NewEvent(2)});
  ASSERT_TRUE(absl::IsUnavailable(result.status()));
  EXPECT_NE(result.status().message().find("nothing was published"), std::string::npos)
      << result.status();
}

// Committed, but the answer could not be read: the caller is never told nothing happened.
TEST(DurableEventLogErrorsTest, CommittedButUnreadAnswerIsSaidSo) {
  FailingStore committed(storage::MarkCommitted(absl::InternalError("could not read the result")));
  DurableEventLog log(committed, {});
  absl::StatusOr<pipeline::AppendResult> result = AppendAndWait(log, {NewEvent(1)});
  ASSERT_TRUE(absl::IsUnavailable(result.status())) << result.status();
  EXPECT_NE(result.status().message().find("were committed"), std::string::npos) << result.status();
  EXPECT_EQ(result.status().message().find("nothing was published"), std::string::npos);
}

class DurableEventLogPgTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(storage::Migrate(*pool_).ok()); }
  DurableEventLogOptions Options() {
    return {.on_commit = [this](const auto&) { commits_with_events_.fetch_add(1); }};
  }

  std::atomic<int> commits_with_events_{0};

  testing::TestDatabase db_;
  std::unique_ptr<storage::ConnectionPool> pool_ = db_.MakePool(4);
  storage::PgEventStore store_{*pool_};
};

TEST_F(DurableEventLogPgTest, ConcurrentCallsShareCommitsAndGetPublishOrder) {
  DurableEventLog log(store_, Options());
  constexpr int kThreads = 8, kCalls = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; c < kCalls; ++c) {
        absl::StatusOr<pipeline::AppendResult> result =
            AppendAndWait(log, {NewEvent(t * kCalls + c)});
        if (!result.ok() || result->published != 1) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  const DurableEventLog::Stats stats = log.stats();
  EXPECT_EQ(stats.events, kThreads * kCalls);
  EXPECT_LT(stats.commits, kThreads * kCalls) << "concurrent calls were committed together";
  EXPECT_EQ(db_.Count("events"), kThreads * kCalls);
  EXPECT_EQ(db_.Count("deliveries"), 0) << "no row per handler";
  EXPECT_EQ(db_.Count("(SELECT DISTINCT sequence FROM events) s"), kThreads * kCalls);
  EXPECT_EQ(commits_with_events_.load(), stats.commits) << "every commit woke the handlers";
}

TEST_F(DurableEventLogPgTest, RepeatedKeysPublishNothingNew) {
  DurableEventLog log(store_, Options());
  EXPECT_EQ(AppendAndWait(log, {NewEvent(1), NewEvent(2)})->published, 2);
  EXPECT_EQ(AppendAndWait(log, {NewEvent(1), NewEvent(2)})->published, 0);
  EXPECT_EQ(AppendAndWait(log, {NewEvent(2), NewEvent(3)})->published, 1);
  EXPECT_EQ(db_.Count("events"), 3);
  EXPECT_EQ(commits_with_events_.load(), 2) << "a commit that published nothing wakes nobody";
}

TEST_F(DurableEventLogPgTest, CommitFailureFailsTheCallAndPublishesNothing) {
  storage::PoolOptions options;
  options.database_url = "postgresql://postgres@127.0.0.1:1/none";
  options.size = 1;
  storage::ConnectionPool unreachable(options);
  storage::PgEventStore store(unreachable);
  DurableEventLog log(store, Options());
  absl::StatusOr<pipeline::AppendResult> result = AppendAndWait(log, {NewEvent(1)});
  EXPECT_TRUE(absl::IsUnavailable(result.status())) << result.status();
  EXPECT_EQ(commits_with_events_.load(), 0);
}

// Ends every other backend of the test's database (the pool's connections) but `spared`, and
// waits until they are gone.
void TerminateBackends(const testing::TestDatabase& db, int spared = 0) {
  pqxx::connection conn(db.url());
  pqxx::nontransaction txn(conn);
  txn.exec_params(
      "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
      " WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> $1",
      spared);
}

// Whether a backend of the test's database waits for a lock within `timeout`.
bool SomeoneWaitsForALock(const testing::TestDatabase& db, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  do {
    if (db.Count("pg_stat_activity WHERE datname = current_database() AND wait_event_type = "
                 "'Lock'") > 0) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(10));
  } while (absl::Now() < deadline);
  return false;
}

using Future = std::future<absl::StatusOr<pipeline::AppendResult>>;
Future AppendCall(pipeline::EventLog& log, const std::string& key,
                  std::vector<domain::Event> events) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<pipeline::AppendResult>>>();
  Future future = promise->get_future();
  log.Append(
      pipeline::CallIdentity{key, "fp-" + key}, std::move(events),
      [promise](absl::StatusOr<pipeline::AppendResult> result) { promise->set_value(result); });
  return future;
}

// One writer lingering long enough for calls sent together to share a commit.
DurableEventLogOptions LingeringOptions() {
  DurableEventLogOptions options;
  options.max_delay = absl::Milliseconds(300);
  options.writers = 1;
  return options;
}

absl::StatusOr<pipeline::AppendResult> Get(Future& future) {
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return absl::DeadlineExceededError("append callback never ran");
  }
  return future.get();
}

// Answers tell the truth (issue 24): once a group commit is in, its calls are answered from what
// the append statement itself returned. The connection killed right after the commit (a
// PostgreSQL restart, pg_terminate_backend) changes no answer: the new call was published, the
// known key gets what it remembered, and neither is told "nothing was published".
TEST_F(DurableEventLogPgTest, AnswersAfterTheCommitNeedNoFurtherStatement) {
  std::unique_ptr<storage::ConnectionPool> pool = db_.MakePool(1);
  std::atomic<bool> armed{false};
  std::atomic<int> fired{0};
  storage::PgEventStoreHooks hooks;
  hooks.after_append = [&] {
    if (!armed.exchange(false)) return;
    TerminateBackends(db_);
    ++fired;
  };
  storage::PgEventStore store(*pool, hooks);
  DurableEventLog log(store, LingeringOptions());
  Future first = AppendCall(log, "call-a", {NewEvent(1, "call-a")});
  ASSERT_EQ(Get(first).value_or(pipeline::AppendResult{-1}).published, 1);

  armed = true;
  // Within the linger: one group commit holding a known key and a new one.
  Future again = AppendCall(log, "call-a", {NewEvent(1, "call-a")});
  Future fresh = AppendCall(log, "call-b", {NewEvent(2, "call-b")});
  absl::StatusOr<pipeline::AppendResult> replayed = Get(again);
  absl::StatusOr<pipeline::AppendResult> published = Get(fresh);
  EXPECT_EQ(fired.load(), 1) << "the connection was killed right after the commit";
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(replayed->outcome, pipeline::AppendResult::Outcome::kReplayed);
  EXPECT_EQ(replayed->published, 1) << "the first call's answer";
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(published->outcome, pipeline::AppendResult::Outcome::kPublished);
  EXPECT_EQ(published->published, 1);
  EXPECT_EQ(db_.Count("events"), 2);
}

// The one answer read after the commit: a key a concurrent call (another instance) committed
// while this append waited for it. If that read fails, only that call goes without its answer,
// and it is told that nothing of it was published and that a retry with its key gets the answer;
// the other call of the commit is answered as published.
TEST_F(DurableEventLogPgTest, KeyCommittedConcurrentlyWhoseAnswerCannotBeReadAsksForARetry) {
  std::unique_ptr<storage::ConnectionPool> pool = db_.MakePool(1);
  pqxx::connection holder(db_.url());
  const int holder_pid = holder.backendpid();
  std::atomic<bool> armed{false};
  std::atomic<int> fired{0};
  storage::PgEventStoreHooks hooks;
  hooks.after_append = [&] {
    if (!armed.exchange(false)) return;
    TerminateBackends(db_, holder_pid);
    ++fired;
  };
  storage::PgEventStore store(*pool, hooks);
  DurableEventLog log(store, LingeringOptions());

  // Another instance's commit of key call-raced, still open.
  pqxx::work other(holder);
  other.exec0(
      "INSERT INTO idempotency_keys (key_digest, fingerprint, accepted_events)"
      " VALUES (call_key_digest('call-raced'), 'fp-call-raced'::bytea, 1)");
  armed = true;
  Future raced = AppendCall(log, "call-raced", {NewEvent(10, "call-raced")});
  Future fresh = AppendCall(log, "call-fresh", {NewEvent(11, "call-fresh")});
  ASSERT_TRUE(SomeoneWaitsForALock(db_, absl::Seconds(10))) << "the append waits for the key";
  other.commit();

  absl::StatusOr<pipeline::AppendResult> raced_result = Get(raced);
  absl::StatusOr<pipeline::AppendResult> fresh_result = Get(fresh);
  EXPECT_EQ(fired.load(), 1);
  ASSERT_TRUE(fresh_result.ok()) << fresh_result.status();
  EXPECT_EQ(fresh_result->published, 1);
  EXPECT_TRUE(absl::IsAborted(raced_result.status())) << raced_result.status();
  EXPECT_NE(raced_result.status().message().find("concurrent call"), std::string::npos)
      << raced_result.status();
  EXPECT_NE(raced_result.status().message().find("retry with the same idempotency key"),
            std::string::npos)
      << raced_result.status();
  EXPECT_EQ(db_.Count("events"), 1) << "call-fresh's event only";

  // The retry gets the other call's answer.
  Future retry = AppendCall(log, "call-raced", {NewEvent(10, "call-raced")});
  absl::StatusOr<pipeline::AppendResult> retried = Get(retry);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->outcome, pipeline::AppendResult::Outcome::kReplayed);
  EXPECT_EQ(retried->published, 1);
  EXPECT_EQ(db_.Count("events"), 1);
}

TEST_F(DurableEventLogPgTest, SaturatedWriterRefusesQuickly) {
  DurableEventLogOptions options = Options();
  options.max_pending_events = 4;
  DurableEventLog log(store_, options);
  // Hold the events table so the writer's commit waits.
  pqxx::connection blocker(db_.url());
  pqxx::work lock(blocker);
  lock.exec0("LOCK TABLE events IN EXCLUSIVE MODE");
  std::vector<std::future<absl::StatusOr<pipeline::AppendResult>>> waiting;
  // Each writer takes one and blocks; the next four fill the pending limit.
  const int accepted = options.writers + 4;
  for (int i = 0; i < accepted; ++i) {
    auto promise = std::make_shared<std::promise<absl::StatusOr<pipeline::AppendResult>>>();
    waiting.push_back(promise->get_future());
    log.Append({NewEvent(i)},
               [promise](absl::StatusOr<pipeline::AppendResult> r) { promise->set_value(r); });
    absl::SleepFor(absl::Milliseconds(20));  // lets an idle writer take it before the next
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<pipeline::AppendResult> refused = AppendAndWait(log, {NewEvent(100)});
  EXPECT_TRUE(absl::IsResourceExhausted(refused.status())) << refused.status();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  lock.abort();
  int ok = 0;
  for (auto& future : waiting) {
    ASSERT_EQ(future.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    ok += future.get().ok() ? 1 : 0;
  }
  EXPECT_EQ(ok, accepted) << "one per writer plus the four that fit were committed";
}

}  // namespace
}  // namespace booking::delivery
