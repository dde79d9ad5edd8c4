#include <atomic>
#include <cstring>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/uuid.h"
#include "gtest/gtest.h"
#include "storage/call_key_digest.h"
#include "storage/migrations.h"
#include "storage/pg_event_store.h"
#include "storage/pg_handler_log.h"
#include "tests/support/test_database.h"

namespace booking::storage {
namespace {

EventRecord Event(const std::string& key, const std::string& type = "Confirmed",
                  std::string ticket = "00000000-0000-4000-8000-000000000001") {
  return {common::NewUuid(),
          type,
          std::move(ticket),
          key,
          "corr",
          std::string("\x00\x01payload\xff", 10)};
}

class PgEventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Migrate(*pool_).ok()); }

  // Registers `handler` for "Confirmed" and gives this test every partition.
  void HoldEverything(const std::string& handler) {
    ASSERT_TRUE(handlers_.Register(handler, {"Confirmed"}, StartFrom::kEarliest).ok());
    ASSERT_EQ(handlers_.Claim("me", absl::Minutes(1), kLogPartitions)->size(),
              size_t{kLogPartitions});
  }

  // Reads the `expected` events `handler` has and finishes them: done, except `dead` (by key).
  // Readers wait for every transaction in flight on the server, other tests' included: retried.
  void Finish(const std::string& handler, size_t expected, const std::set<std::string>& dead = {},
              const std::string& reason = "gave up") {
    std::vector<PartitionLease> leases;
    for (int p = 0; p < kLogPartitions; ++p) leases.push_back({p, 0});
    absl::StatusOr<HandlerBatchRead> batch;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    do {
      batch = handlers_.Read(handler, {.owner = "me",
                                       .partitions = leases,
                                       .event_types = {"Confirmed"},
                                       .max_redeliveries = 10});
      ASSERT_TRUE(batch.ok()) << batch.status();
    } while (batch->events.size() < expected && absl::Now() < deadline);
    ASSERT_EQ(batch->events.size(), expected);
    HandlerProgress progress;
    progress.owner = "me";
    progress.checkpoints = batch->ends;
    for (const LoggedEvent& event : batch->events) {
      if (dead.count(event.event.idempotency_key)) {
        progress.dead_letters.push_back({event.event.sequence, event.partition, 1, reason});
      } else if (event.partition < 0) {
        progress.redeliveries_done.push_back(event.event.sequence);
      }
    }
    absl::StatusOr<CommitResult> result = handlers_.Commit(handler, progress);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->stale_partitions, 0);
  }

  testing::TestDatabase db_;
  std::unique_ptr<ConnectionPool> pool_ = db_.MakePool(4);
  PgEventStore store_{*pool_};
  PgHandlerLog handlers_{*pool_};
};

TEST_F(PgEventStoreTest, AppendsOncePerKeyAndNoRowPerHandler) {
  const EventRecord first[] = {Event("k/1"), Event("k/2", "Canceled")};
  absl::StatusOr<std::vector<EventRecord>> appended = store_.Append(first);
  ASSERT_TRUE(appended.ok()) << appended.status();
  ASSERT_EQ(appended->size(), 2u);
  EXPECT_LT((*appended)[0].sequence, (*appended)[1].sequence);
  EXPECT_EQ((*appended)[0].payload, first[0].payload);
  EXPECT_EQ(
      db_.QueryValue("SELECT encode(payload, 'hex') FROM events WHERE idempotency_key = 'k/1'"),
      "00017061796c6f6164ff")
      << "bytes survive, NUL and 0xff included";
  EXPECT_EQ(db_.Count("deliveries"), 0) << "success costs no delivery rows";

  const EventRecord again[] = {Event("k/1"), Event("k/3")};
  appended = store_.Append(again);
  ASSERT_TRUE(appended.ok());
  ASSERT_EQ(appended->size(), 1u) << "k/1 is known";
  EXPECT_EQ((*appended)[0].idempotency_key, "k/3");
  EXPECT_EQ(db_.Count("events"), 3);
}

// A call's key is remembered with its fingerprint and answer: a known key appends nothing and
// gets what is remembered, whatever its events.
TEST_F(PgEventStoreTest, CallKeyNamesOneRequest) {
  const CallRecord first[] = {{"call-a", "fp-1", 2}, {"call-b", "fp-2", 1}};
  const EventRecord events[] = {Event("call-a/1"), Event("call-a/2"), Event("call-b/1")};
  const int call_of[] = {0, 0, 1};
  absl::StatusOr<AppendOutcome> outcome = store_.Append(first, events, call_of);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->appended.size(), 3u);
  ASSERT_EQ(outcome->known.size(), 2u);
  EXPECT_FALSE(outcome->known[0].has_value());
  EXPECT_FALSE(outcome->known[1].has_value());

  // call-a again with other events (a different request), plus a new call and a bare event.
  const CallRecord second[] = {{"call-a", "fp-9", 1}, {"call-c", "fp-3", 1}};
  const EventRecord more[] = {Event("call-a/3"), Event("call-c/1"), Event("bare")};
  const int more_of[] = {0, 1, -1};
  outcome = store_.Append(second, more, more_of);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_EQ(outcome->appended.size(), 2u) << "call-c/1 and bare; nothing of call-a";
  EXPECT_EQ(outcome->appended[0].idempotency_key, "call-c/1");
  EXPECT_EQ(outcome->appended[1].idempotency_key, "bare");
  ASSERT_TRUE(outcome->known[0].has_value());
  EXPECT_EQ(outcome->known[0]->fingerprint, "fp-1") << "what the first call left";
  EXPECT_EQ(outcome->known[0]->accepted_events, 2);
  EXPECT_FALSE(outcome->known[1].has_value());
  EXPECT_EQ(db_.Count("events WHERE idempotency_key LIKE 'call-a/%'"), 2);
  EXPECT_EQ(db_.Count("idempotency_keys"), 4) << "call-a, call-b, call-c, and bare as its own";
}

// With tokens on, a key is its caller's (pipeline::ScopedKey): two callers' calls with one key are
// two calls, each appended, each remembered; neither tells the other anything.
TEST_F(PgEventStoreTest, CallersKeysAreTheirOwn) {
  const CallRecord calls[] = {{"paris:k", "fp-p", 1, "k"}, {"lyon:k", "fp-l", 1, "k"}};
  const EventRecord events[] = {Event("paris:k/1"), Event("lyon:k/1")};
  const int call_of[] = {0, 1};
  absl::StatusOr<AppendOutcome> outcome = store_.Append(calls, events, call_of);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->appended.size(), 2u);
  EXPECT_FALSE(outcome->known[0].has_value());
  EXPECT_FALSE(outcome->known[1].has_value());

  // Lyon again, with another request: Lyon's own call answers, not Paris's.
  const CallRecord again[] = {{"lyon:k", "fp-x", 1, "k"}, {"nice:k", "fp-n", 1, "k"}};
  const EventRecord more[] = {Event("lyon:k/2"), Event("nice:k/1")};
  outcome = store_.Append(again, more, call_of);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_EQ(outcome->appended.size(), 1u);
  EXPECT_EQ(outcome->appended[0].idempotency_key, "nice:k/1");
  ASSERT_TRUE(outcome->known[0].has_value());
  EXPECT_EQ(outcome->known[0]->fingerprint, "fp-l");
  EXPECT_EQ(db_.Count("idempotency_keys"), 3);
}

// A call remembered under its key as sent (before keys were scoped: tokens off, or an older
// version) is still that call once the same key arrives scoped: replayed, nothing appended.
TEST_F(PgEventStoreTest, ScopedKeysFindTheCallRememberedUnscoped) {
  const CallRecord before[] = {{"order-7", "fp-1", 2}};
  const EventRecord events[] = {Event("order-7/1"), Event("order-7/2")};
  const int both[] = {0, 0};
  ASSERT_TRUE(store_.Append(before, events, both).ok());

  const CallRecord after[] = {{"paris:order-7", "fp-1", 2, "order-7"},
                              {"paris:order-8", "fp-2", 1, "order-8"}};
  const EventRecord retried[] = {Event("paris:order-7/1"), Event("paris:order-7/2"),
                                 Event("paris:order-8/1")};
  const int call_of[] = {0, 0, 1};
  absl::StatusOr<AppendOutcome> outcome = store_.Append(after, retried, call_of);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_EQ(outcome->appended.size(), 1u) << "only order-8, which is new";
  EXPECT_EQ(outcome->appended[0].idempotency_key, "paris:order-8/1");
  ASSERT_TRUE(outcome->known[0].has_value());
  EXPECT_EQ(outcome->known[0]->idempotency_key, "paris:order-7");
  EXPECT_EQ(outcome->known[0]->fingerprint, "fp-1");
  EXPECT_EQ(outcome->known[0]->accepted_events, 2);
  EXPECT_EQ(db_.Count("idempotency_keys"), 2) << "order-7 unscoped, order-8 scoped; no copy";
  EXPECT_EQ(db_.Count("events"), 3);

  // Once a scoped row exists, it is the answer, even when an unscoped one appears later.
  const CallRecord scoped[] = {{"paris:order-8", "fp-2", 1, "order-8"}};
  const CallRecord unscoped[] = {{"order-8", "fp-other", 5}};
  ASSERT_TRUE(store_.Append(unscoped, {}, {}).ok());
  outcome = store_.Append(scoped, {}, {});
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_TRUE(outcome->known[0].has_value());
  EXPECT_EQ(outcome->known[0]->fingerprint, "fp-2");
  EXPECT_EQ(outcome->known[0]->accepted_events, 1);
}

// The service computes the keys' digests itself; the schema's function (for migrations and
// by-hand queries) must agree with it byte for byte, whatever the key's characters.
TEST_F(PgEventStoreTest, CallKeyDigestIsTheSchemasOwn) {
  const std::string keys[] = {"a", "loadgen-0599b67b-12", "cl\u00e9/\U0001F3AB",
                              std::string(300, 'k')};
  for (const std::string& key : keys) {
    EXPECT_EQ(db_.QueryValue(absl::StrCat("SELECT call_key_digest('", key, "')::text")),
              CallKeyDigest(key))
        << key;
  }
  EXPECT_NE(CallKeyDigest("a"), CallKeyDigest("b"));
}

// Migration 14 keys the calls by a digest of their key: a call remembered before it is still
// known after it, with the answer and the (then 32-byte) fingerprint's first 16 bytes.
TEST(PgEventStoreUpgradeTest, CallsRememberedBeforeTheDigestAreStillKnown) {
  testing::TestDatabase db;
  std::unique_ptr<ConnectionPool> pool = db.MakePool(2);
  const absl::Span<const Migration> all = SchemaMigrations();
  ASSERT_GE(all.size(), 14u);
  ASSERT_TRUE(Migrate(*pool, all.first(13)).ok());
  db.Exec(
      "INSERT INTO idempotency_keys (idempotency_key, fingerprint, accepted_events)"
      " VALUES ('old-call', decode(repeat('ab', 32), 'hex'), 2)");
  ASSERT_TRUE(Migrate(*pool).ok());
  EXPECT_EQ(db.Count("idempotency_keys"), 1);

  PgEventStore store(*pool);
  const CallRecord calls[] = {{"old-call", "fp-new", 1}, {"new-call", "fp-2", 1}};
  const EventRecord events[] = {Event("old-call/1"), Event("new-call/1")};
  const int call_of[] = {0, 1};
  absl::StatusOr<AppendOutcome> outcome = store.Append(calls, events, call_of);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_EQ(outcome->appended.size(), 1u) << "only the new call's event";
  EXPECT_EQ(outcome->appended[0].idempotency_key, "new-call/1");
  ASSERT_TRUE(outcome->known[0].has_value());
  EXPECT_EQ(outcome->known[0]->fingerprint, std::string(16, '\xab'));
  EXPECT_EQ(outcome->known[0]->accepted_events, 2);
  EXPECT_FALSE(outcome->known[1].has_value());
  EXPECT_EQ(db.Count("idempotency_keys"), 2);
}

// Two instances appending the same call key at once: one appends, the other waits for it and
// gets what it remembered. Never both.
TEST_F(PgEventStoreTest, ConcurrentAppendsOfOneCallKeyPublishOnce) {
  PgEventStore other(*pool_);
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = absl::StrCat("race-", round);
    std::atomic<int> appended{0}, known{0};
    auto run = [&](PgEventStore& store, const std::string& ticket) {
      const CallRecord call[] = {{key, "same", 1}};
      const EventRecord events[] = {Event(key + "/" + ticket)};
      const int call_of[] = {0};
      absl::StatusOr<AppendOutcome> outcome = store.Append(call, events, call_of);
      ASSERT_TRUE(outcome.ok()) << outcome.status();
      appended += static_cast<int>(outcome->appended.size());
      known += outcome->known[0].has_value() ? 1 : 0;
    };
    std::thread a([&] { run(store_, "a"); });
    std::thread b([&] { run(other, "b"); });
    a.join();
    b.join();
    EXPECT_EQ(appended.load(), 1) << key;
    EXPECT_EQ(known.load(), 1) << key;
  }
  EXPECT_EQ(db_.Count("events"), kRounds);
}

// Clients retrying concurrently: two group commits hold the same call keys in opposite order.
// Inserted in key order, they wait for each other instead of deadlocking; neither fails.
TEST_F(PgEventStoreTest, OppositeKeyOrdersDoNotDeadlock) {
  PgEventStore other(*pool_);
  for (int round = 0; round < 10; ++round) {
    std::vector<CallRecord> calls;
    std::vector<EventRecord> events;
    std::vector<int> call_of;
    for (int k = 0; k < 50; ++k) {
      const std::string key = absl::StrCat("order-", round, "-", k);
      calls.push_back({key, "fp", 1});
      events.push_back(Event(key + "/t"));
      call_of.push_back(k);
    }
    std::vector<CallRecord> reversed(calls.rbegin(), calls.rend());
    std::vector<EventRecord> reversed_events(events.rbegin(), events.rend());
    std::atomic<int> failures{0}, appended{0};
    auto run = [&](PgEventStore& store, const std::vector<CallRecord>& c,
                   const std::vector<EventRecord>& e) {
      absl::StatusOr<AppendOutcome> outcome = store.Append(c, e, call_of);
      if (!outcome.ok()) {
        ++failures;
        ADD_FAILURE() << outcome.status();
        return;
      }
      appended += static_cast<int>(outcome->appended.size());
    };
    std::thread a([&] { run(store_, calls, events); });
    std::thread b([&] { run(other, reversed, reversed_events); });
    a.join();
    b.join();
    EXPECT_EQ(failures.load(), 0) << "round " << round;
    EXPECT_EQ(appended.load(), 50) << "each key once, round " << round;
  }
}

TEST_F(PgEventStoreTest, PruneForgetsOldCallKeys) {
  const CallRecord call[] = {{"old-call", "fp", 1}};
  const EventRecord events[] = {Event("old-call/1")};
  const int call_of[] = {0};
  ASSERT_TRUE(store_.Append(call, events, call_of).ok());
  db_.Exec("UPDATE idempotency_keys SET created_at = now() - interval '2 days'");
  ASSERT_TRUE(store_.PruneFinished(absl::Hours(24), 100).ok());
  EXPECT_EQ(db_.Count("idempotency_keys"), 0);
}

TEST_F(PgEventStoreTest, SameKeyTwiceInOneAppendIsStoredOnce) {
  const EventRecord twice[] = {Event("dup"), Event("dup")};
  absl::StatusOr<std::vector<EventRecord>> appended = store_.Append(twice);
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->size(), 1u);
  EXPECT_EQ(db_.Count("events"), 1);
}

TEST_F(PgEventStoreTest, OneTicketAlwaysInOnePartitionAndTicketsSpreadOverAll) {
  std::vector<EventRecord> events;
  for (int i = 0; i < 400; ++i) {
    events.push_back(Event(absl::StrCat("k", i), "Confirmed", common::NewUuid()));
  }
  events.push_back(Event("same-1", "Confirmed", "00000000-0000-4000-8000-00000000abcd"));
  events.push_back(Event("same-2", "Canceled", "00000000-0000-4000-8000-00000000abcd"));
  ASSERT_TRUE(store_.Append(events).ok());
  EXPECT_EQ(db_.Count("(SELECT DISTINCT partition FROM events) p"), kLogPartitions);
  EXPECT_EQ(
      db_.Count("(SELECT DISTINCT partition FROM events WHERE idempotency_key LIKE 'same%') p"), 1);
}

TEST_F(PgEventStoreTest, DeadLettersAreListedAndSentBackAsRedeliveries) {
  HoldEverything("Receipt");
  const EventRecord events[] = {Event("a"), Event("b")};
  absl::StatusOr<std::vector<EventRecord>> appended = store_.Append(events);
  ASSERT_TRUE(appended.ok());
  const int64_t b = (*appended)[1].sequence;
  Finish("Receipt", 2, {"b"});
  EXPECT_EQ(*store_.CountPending(), 0);

  absl::StatusOr<DeadLetterPage> dead = store_.ListDeadLetters({}, 10);
  ASSERT_TRUE(dead.ok()) << dead.status();
  ASSERT_EQ(dead->letters.size(), 1u);
  EXPECT_EQ(dead->total_matching, 1);
  EXPECT_EQ(dead->letters[0].handler, "Receipt");
  EXPECT_EQ(dead->letters[0].reason, "gave up");
  EXPECT_EQ(dead->letters[0].event.idempotency_key, "b");
  EXPECT_EQ(dead->letters[0].event.payload, events[1].payload);

  const std::pair<int64_t, std::string> ids[] = {{b, "Receipt"}};
  EXPECT_EQ(*store_.RetryDeadLetters(ids, /*dry_run=*/true), 1);
  EXPECT_EQ(db_.Count("dead_letters"), 1) << "a dry run sends nothing back";
  const std::pair<int64_t, std::string> typo[] = {{b, "Receipt"}, {b, "Reciept"}};
  EXPECT_EQ(store_.RetryDeadLetters(typo, /*dry_run=*/true).status().code(),
            absl::StatusCode::kNotFound)
      << "a dry run refuses what the retry would refuse";
  EXPECT_EQ(*store_.RetryDeadLetters(ids, false), 1);
  EXPECT_TRUE(store_.ListDeadLetters({}, 10)->letters.empty());
  EXPECT_EQ(*store_.CountPending(), 1) << "a redelivery waits for the handler";
  Finish("Receipt", 1);
  EXPECT_EQ(*store_.CountPending(), 0);
  EXPECT_EQ(db_.Count("deliveries"), 0);
}

TEST_F(PgEventStoreTest, RetryAllDeadLetters) {
  HoldEverything("Receipt");
  const EventRecord events[] = {Event("a"), Event("b")};
  ASSERT_TRUE(store_.Append(events).ok());
  Finish("Receipt", 2, {"a", "b"});
  EXPECT_EQ(db_.Count("dead_letters"), 2);
  EXPECT_EQ(*store_.RetryMatching({}, /*dry_run=*/false), 2) << "no filter: every one";
  EXPECT_EQ(db_.Count("dead_letters"), 0);
  EXPECT_EQ(*store_.CountPending(), 2);
}

// A filter narrows by handler, failure time and reason (ignoring case); the list counts every
// match beyond its limit; a dry run counts what the retry then sends back, and only that.
TEST_F(PgEventStoreTest, DeadLettersByFilterAreListedCountedAndRetried) {
  HoldEverything("Receipt");
  ASSERT_TRUE(handlers_.Register("Tracker", {"Confirmed"}, StartFrom::kEarliest).ok());
  const EventRecord events[] = {Event("a"), Event("b"), Event("c")};
  ASSERT_TRUE(store_.Append(events).ok());
  Finish("Receipt", 3, {"a", "b"}, "HTTP 422: Amount Refused");
  Finish("Tracker", 3, {"c"}, "sheet full");
  // An hour between the two Receipt failures, so that a time bound splits them.
  const absl::Time noon = absl::FromUnixSeconds(1'800'000'000);
  db_.Exec(absl::StrCat("UPDATE dead_letters dl SET failed_at = to_timestamp(",
                        absl::ToUnixSeconds(noon),
                        ") + CASE e.idempotency_key WHEN 'a' THEN interval '0' WHEN 'b' THEN "
                        "interval '1 hour' ELSE interval '2 hours' END"
                        " FROM events e WHERE e.sequence = dl.sequence"));

  auto keys = [&](const DeadLetterFilter& filter, int limit = 10) {
    absl::StatusOr<DeadLetterPage> page = store_.ListDeadLetters(filter, limit);
    std::vector<std::string> out;
    if (!page.ok()) return std::pair{std::vector<std::string>{page.status().ToString()}, -1L};
    for (const DeadLetterRecord& letter : page->letters) {
      out.push_back(letter.event.idempotency_key);
    }
    return std::pair{out, static_cast<long>(page->total_matching)};
  };
  using Keys = std::vector<std::string>;
  EXPECT_EQ(keys({}), std::pair(Keys{"a", "b", "c"}, 3L)) << "oldest first";
  EXPECT_EQ(keys({}, 1), std::pair(Keys{"a"}, 3L)) << "the count goes beyond the page";
  EXPECT_EQ(keys({.handler = "Tracker"}), std::pair(Keys{"c"}, 1L));
  EXPECT_EQ(keys({.handler = "Track"}), std::pair(Keys{}, 0L)) << "the handler is exact";
  EXPECT_EQ(keys({.reason_contains = "amount refused"}), std::pair(Keys{"a", "b"}, 2L));
  EXPECT_EQ(keys({.reason_contains = "100%"}), std::pair(Keys{}, 0L)) << "no LIKE pattern";
  EXPECT_EQ(keys({.failed_after = noon + absl::Minutes(30)}), std::pair(Keys{"b", "c"}, 2L));
  EXPECT_EQ(keys({.failed_after = noon, .failed_before = noon + absl::Hours(1)}),
            std::pair(Keys{"a"}, 1L))
      << "from the start, up to the end excluded";

  const DeadLetterFilter late_receipts{
      .handler = "Receipt", .failed_after = noon + absl::Minutes(1), .reason_contains = "REFUSED"};
  EXPECT_EQ(*store_.RetryMatching(late_receipts, /*dry_run=*/true), 1);
  EXPECT_EQ(db_.Count("dead_letters"), 3) << "a dry run sends nothing back";
  EXPECT_EQ(*store_.RetryMatching(late_receipts, /*dry_run=*/false), 1);
  EXPECT_EQ(keys({}), std::pair(Keys{"a", "c"}, 2L)) << "only the match went back";
  EXPECT_EQ(db_.Count("deliveries WHERE handler = 'Receipt'"), 1);
}

// A replay schedules the handler's passed events in the range (by sequence or time) as
// redeliveries, its dead letters there included; events it has not reached are left to it.
TEST_F(PgEventStoreTest, ReplaySchedulesPassedEventsInTheRangeOnce) {
  HoldEverything("Receipt");
  const EventRecord events[] = {Event("r1"), Event("r2"), Event("r3"), Event("r4"),
                                Event("other", "Canceled")};
  absl::StatusOr<std::vector<EventRecord>> appended = store_.Append(events);
  ASSERT_TRUE(appended.ok()) << appended.status();
  Finish("Receipt", 4, {"r3"});  // r3 ends as a dead letter
  const EventRecord later[] = {Event("r5")};
  ASSERT_TRUE(store_.Append(later).ok());  // not reached yet by the handler
  const int64_t r2 = (*appended)[1].sequence;

  absl::StatusOr<ReplayOutcome> replay =
      store_.Replay("Receipt", {.from_sequence = r2}, /*max_events=*/100);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->event_type, "Confirmed");
  EXPECT_EQ(replay->replayed, 3) << "r2, r3 (a dead letter) and r4; not r5, not the Canceled one";
  EXPECT_EQ(db_.Count("dead_letters"), 0) << "the dead letter in the range went back";
  EXPECT_EQ(db_.Count("deliveries WHERE handler = 'Receipt'"), 3);
  EXPECT_EQ(store_.Replay("Receipt", {.from_sequence = r2}, 100)->replayed, 0)
      << "already scheduled: nothing new";
  // r5 from the log; r2..r4 as redeliveries, one at a time: they are one ticket's, in order.
  Finish("Receipt", 2);
  Finish("Receipt", 1);
  Finish("Receipt", 1);
  EXPECT_EQ(*store_.CountPending(), 0);

  // By time: everything published from a minute ago, up to an end in the past: nothing.
  EXPECT_EQ(store_.Replay("Receipt", {.from_time = absl::Now() - absl::Minutes(1)}, 100)->replayed,
            5);
  EXPECT_EQ(
      store_
          .Replay("Receipt", {.from_sequence = 1, .to_time = absl::Now() - absl::Minutes(1)}, 100)
          ->replayed,
      0);
}

TEST_F(PgEventStoreTest, ReplayRefusesUnknownHandlersAndRangesOverTheCap) {
  HoldEverything("Receipt");
  const EventRecord events[] = {Event("c1"), Event("c2"), Event("c3")};
  ASSERT_TRUE(store_.Append(events).ok());
  Finish("Receipt", 3);

  absl::StatusOr<ReplayOutcome> unknown = store_.Replay("Nobody", {.from_sequence = 1}, 100);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("\"Nobody\""), std::string_view::npos);

  absl::StatusOr<ReplayOutcome> too_many = store_.Replay("Receipt", {.from_sequence = 1}, 2);
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(too_many.status().message().find("holds 3 events"), std::string_view::npos)
      << too_many.status();
  EXPECT_EQ(db_.Count("deliveries"), 0) << "a refused replay schedules nothing";
}

// Finished, pending and dead-lettered events, all old; only the finished ones are pruned, and
// the young finished one stays until it is old too.
TEST_F(PgEventStoreTest, PrunesOnlyOldEventsEveryHandlerHasPassed) {
  HoldEverything("Receipt");
  const EventRecord done[] = {Event("done-old"), Event("dead-old"), Event("done-young")};
  ASSERT_TRUE(store_.Append(done).ok());
  Finish("Receipt", 3, {"dead-old"});
  const EventRecord pending[] = {Event("pending-old")};
  ASSERT_TRUE(store_.Append(pending).ok());
  db_.Exec(
      "UPDATE events SET published_at = now() - interval '2 days' WHERE idempotency_key <> "
      "'done-young'");
  db_.Exec(
      "UPDATE idempotency_keys SET created_at = now() - interval '2 days'"
      " WHERE key_digest <> call_key_digest('done-young')");

  absl::StatusOr<int> pruned = store_.PruneFinished(absl::Hours(24), 100);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 1);
  EXPECT_EQ(db_.Count("events WHERE idempotency_key = 'done-old'"), 0);
  EXPECT_EQ(db_.Count("events"), 3);
  EXPECT_EQ(*store_.PruneFinished(absl::Hours(24), 100), 0) << "nothing else is both old and done";

  // Its key is forgotten with it: the same key publishes again.
  const EventRecord again[] = {Event("done-old")};
  EXPECT_EQ(store_.Append(again)->size(), 1u);
}

// A million young events and nothing to prune: the prune statement must read (about) nothing,
// not walk the table every minute.
TEST_F(PgEventStoreTest, PruneOfYoungEventsReadsAlmostNothing) {
  db_.Exec(
      "INSERT INTO events (event_id, event_type, ticket_id, idempotency_key, correlation_id,"
      " payload, partition)"
      " SELECT gen_random_uuid(), 'Confirmed', gen_random_uuid(), 'young/' || g, 'c', '\\x00',"
      " (g % 16)::smallint FROM generate_series(1, 1000000) g");
  db_.Exec("ANALYZE events");
  ASSERT_EQ(*store_.PruneFinished(absl::Hours(24), 1000), 0);  // as the pruner runs it
  std::string sql;
  for (const PreparedStatement& statement : PgEventStore::Statements()) {
    if (statement.name == "events_prune") sql = statement.sql;
  }
  ASSERT_FALSE(sql.empty());
  pqxx::connection conn(db_.url());
  pqxx::nontransaction txn(conn);
  txn.exec("PREPARE prune_probe(interval, int) AS " + sql);
  std::string plan;
  for (const auto& row :
       txn.exec("EXPLAIN (ANALYZE, BUFFERS) EXECUTE prune_probe('24 hours', 1000)")) {
    plan += row[0].as<std::string>() + "\n";
  }
  // The first Buffers line is the whole statement's.
  const size_t at = plan.find("Buffers: shared");
  ASSERT_NE(at, std::string::npos) << plan;
  long long blocks = 0;
  for (const char* kind : {"hit=", "read="}) {
    const size_t k = plan.find(kind, at);
    if (k != std::string::npos && k < plan.find('\n', at))
      blocks += std::stoll(plan.substr(k + strlen(kind)));
  }
  std::printf("prune over 1,000,000 young events read %lld pages\n", blocks);
  EXPECT_LT(blocks, 200) << "pages read for nothing to delete:\n" << plan;
  EXPECT_EQ(db_.Count("events"), 1000000);
}

TEST_F(PgEventStoreTest, PruneDeletesAtMostTheLimitOldestFirst) {
  std::vector<EventRecord> events;
  for (int i = 0; i < 5; ++i) events.push_back(Event(absl::StrCat("batch-", i)));
  ASSERT_TRUE(store_.Append(events).ok());  // no handler registered: nothing pending
  db_.Exec("UPDATE events SET published_at = now() - interval '1 hour'");
  EXPECT_EQ(*store_.PruneFinished(absl::Minutes(1), 2), 2);
  EXPECT_EQ(db_.Count("events WHERE idempotency_key IN ('batch-0', 'batch-1')"), 0);
  EXPECT_EQ(*store_.PruneFinished(absl::Minutes(1), 10), 3);
  EXPECT_EQ(db_.Count("events"), 0);
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

constexpr char kOrphans[] =
    "deliveries d WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.sequence = d.sequence)";

// A replay racing the pruner (issue 24), the replay first: its transaction, held open, has
// scheduled two old finished events again when the pruner runs. The pruner leaves them (they
// are locked by the replay) instead of deleting them under their new delivery rows, which
// nobody could then claim and which would count as lag for ever.
TEST_F(PgEventStoreTest, ReplayInFlightKeepsItsEventsFromThePruner) {
  HoldEverything("Receipt");
  const EventRecord events[] = {Event("old-1"), Event("old-2")};
  absl::StatusOr<std::vector<EventRecord>> appended = store_.Append(events);
  ASSERT_TRUE(appended.ok()) << appended.status();
  Finish("Receipt", 2);
  db_.Exec("UPDATE events SET published_at = now() - interval '2 days'");

  // The replay's own statement, on a connection of its own, its transaction left open.
  pqxx::connection replaying(db_.url());
  for (const PreparedStatement& statement : PgEventStore::Statements()) {
    replaying.prepare(statement.name, statement.sql);
  }
  pqxx::work replay(replaying);
  EXPECT_EQ(replay
                .exec_prepared("replay_schedule", "Receipt", "{Confirmed}", (*appended)[0].sequence,
                               0, "-infinity", "infinity")
                .affected_rows(),
            2u);

  absl::StatusOr<int> pruned = store_.PruneFinished(absl::Hours(24), 100);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 0) << "the events being replayed stay";
  replay.commit();
  EXPECT_EQ(db_.Count(kOrphans), 0);
  EXPECT_EQ(*store_.CountPending(), 2) << "two redeliveries, both claimable";

  // Claimed (the claim joins the events) and done; one ticket's, so one at a time, in order.
  Finish("Receipt", 1);
  Finish("Receipt", 1);
  EXPECT_EQ(*store_.CountPending(), 0) << "the lag returns to 0";
  EXPECT_EQ(*store_.PruneFinished(absl::Hours(24), 100), 2) << "then they go";
  EXPECT_EQ(db_.Count("deliveries"), 0);
}

// The same race, the pruner first: its transaction has deleted an old event and is still open
// when a replay of that range starts. The replay waits for it, then skips the deleted event
// and schedules only the one still there: no delivery row without its event.
TEST_F(PgEventStoreTest, PruneInFlightMakesAReplaySkipWhatItDeletes) {
  HoldEverything("Receipt");
  const EventRecord events[] = {Event("old"), Event("young")};
  absl::StatusOr<std::vector<EventRecord>> appended = store_.Append(events);
  ASSERT_TRUE(appended.ok()) << appended.status();
  Finish("Receipt", 2);
  db_.Exec(
      "UPDATE events SET published_at = now() - interval '2 days' WHERE idempotency_key = "
      "'old'");

  absl::StatusOr<ReplayOutcome> replayed;
  std::thread replay;
  bool replay_waited = false;
  PgEventStoreHooks hooks;
  hooks.after_prune = [&] {
    replay = std::thread([&] {
      replayed = store_.Replay("Receipt", {.from_sequence = (*appended)[0].sequence}, 100);
    });
    replay_waited = SomeoneWaitsForALock(db_, absl::Seconds(5));
  };
  PgEventStore pruner(*pool_, hooks);
  absl::StatusOr<int> pruned = pruner.PruneFinished(absl::Hours(24), 100);
  ASSERT_TRUE(replay.joinable());
  replay.join();
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 1);
  EXPECT_TRUE(replay_waited) << "the replay waits for the prune deleting its event";
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(replayed->replayed, 1) << "the pruned event is skipped";
  EXPECT_EQ(db_.Count(kOrphans), 0);
  EXPECT_EQ(*store_.CountPending(), 1);
  Finish("Receipt", 1);
  EXPECT_EQ(*store_.CountPending(), 0);
}

// Delivery rows whose event is gone (left by the race before it was closed, or by an older
// version) are swept: nobody could claim them, and they held the lag above 0 for ever.
TEST_F(PgEventStoreTest, SweepDeletesRedeliveriesWithoutTheirEvent) {
  HoldEverything("Receipt");
  const EventRecord events[] = {Event("kept")};
  absl::StatusOr<std::vector<EventRecord>> appended = store_.Append(events);
  ASSERT_TRUE(appended.ok()) << appended.status();
  const int64_t kept = (*appended)[0].sequence;
  Finish("Receipt", 1);
  db_.Exec(absl::StrCat("INSERT INTO deliveries (sequence, handler) VALUES (", kept,
                        ", 'Receipt'), (", kept + 1000, ", 'Receipt')"));
  EXPECT_EQ(*store_.CountPending(), 2);
  absl::StatusOr<int> swept = store_.SweepOrphans();
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(*swept, 1);
  EXPECT_EQ(*store_.CountPending(), 1) << "the redelivery of an existing event stays";
  EXPECT_EQ(db_.Count(kOrphans), 0);
}

}  // namespace
}  // namespace booking::storage
