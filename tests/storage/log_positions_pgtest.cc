// Rebasing log positions from another cluster: a database whose stored tx values are ahead of
// this cluster's transaction ids (as after a restore) is rewritten so that no handler skips an
// event and no watcher misses a step, also for events and steps committed out of order; once,
// by instances starting together; and nothing is touched on a database of this cluster.
#include <cstdio>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/uuid.h"
#include "gtest/gtest.h"
#include "storage/log_positions.h"
#include "storage/migrations.h"
#include "storage/pg_event_store.h"
#include "storage/pg_handler_log.h"
#include "storage/pg_step_log.h"
#include "tests/support/test_database.h"

namespace booking::storage {
namespace {

const std::string kTicket = "00000000-0000-4000-8000-000000000001";

class LogPositionsPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Migrate(*pool_).ok());
    partition_ = std::stoi(
        db_.QueryValue(absl::StrCat("SELECT (hashtextextended('", kTicket, "', 0) & 15)")));
    // Well past any id this cluster will give out during the test: another cluster's.
    ahead_ =
        std::stoull(db_.QueryValue("SELECT pg_snapshot_xmax(pg_current_snapshot())")) + 100'000'000;
  }

  // An event as restored from the other cluster: its sequence and tx given.
  void RestoredEvent(int64_t sequence, uint64_t tx_offset) {
    db_.Exec(absl::StrCat(
        "INSERT INTO events (sequence, event_id, event_type, ticket_id, idempotency_key,"
        " correlation_id, payload, partition, tx) VALUES (",
        sequence, ", '", common::NewUuid(), "', 'Confirmed', '", kTicket, "', 'restored-", sequence,
        "', 'c', 'x', ", partition_, ", '", ahead_ + tx_offset, "')"));
  }
  void RestoredStep(int64_t step_sequence, uint64_t tx_offset) {
    db_.Exec(
        absl::StrCat("INSERT INTO step_batches (batch_sequence, tx, step, event_sequences)"
                     " VALUES (",
                     step_sequence, ", '", ahead_ + tx_offset, "', 'accepted', ARRAY[",
                     step_sequence, "::bigint])"));
  }
  // A handler registered on the other cluster, its checkpoint in our partition at (last, read).
  void RestoredHandler(const std::string& handler, uint64_t last_tx, int64_t last_sequence,
                       uint64_t read_tx, int64_t read_sequence) {
    ASSERT_TRUE(log_.Register(handler, {"Confirmed"}, StartFrom::kEarliest).ok());
    db_.Exec(absl::StrCat("UPDATE handler_checkpoints SET last_tx = '", last_tx,
                          "', last_sequence = ", last_sequence, ", read_tx = '", read_tx,
                          "', read_sequence = ", read_sequence, " WHERE handler = '", handler,
                          "' AND partition = ", partition_));
  }

  // Reads what `handler` gets next in every partition, waiting up to 20 s for `expected` events
  // (readers wait for every transaction in flight on the server, other tests' included).
  std::vector<std::pair<int64_t, bool>> Read(const std::string& handler, size_t expected = 0) {
    std::vector<std::pair<int64_t, bool>> read;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    do {
      absl::StatusOr<std::vector<PartitionLease>> held = log_.Renew("me", absl::Minutes(1));
      if (!held.ok()) break;
      absl::StatusOr<HandlerBatchRead> batch = log_.Read(handler, {.owner = "me",
                                                                   .partitions = *held,
                                                                   .event_types = {"Confirmed"},
                                                                   .mark_handed_out = false});
      EXPECT_TRUE(batch.ok()) << batch.status();
      if (!batch.ok()) break;
      read.clear();
      for (const LoggedEvent& e : batch->events) read.emplace_back(e.event.sequence, e.redelivered);
      if (read.size() >= expected) break;
      absl::SleepFor(absl::Milliseconds(20));
    } while (absl::Now() < deadline);
    return read;
  }
  std::vector<int64_t> Sequences(const std::vector<std::pair<int64_t, bool>>& read) {
    std::vector<int64_t> out;
    for (const auto& [sequence, redelivered] : read) out.push_back(sequence);
    return out;
  }
  std::vector<int64_t> StepsAfter(LogPosition after, size_t expected) {
    std::vector<int64_t> out;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    do {
      absl::StatusOr<std::vector<StepRecord>> read = steps_.ReadAfter(after, 100);
      EXPECT_TRUE(read.ok()) << read.status();
      if (!read.ok()) break;
      out.clear();
      for (const StepRecord& step : *read) out.push_back(step.position.sequence);
      if (out.size() >= expected) break;
      absl::SleepFor(absl::Milliseconds(20));
    } while (absl::Now() < deadline);
    return out;
  }

  testing::TestDatabase db_;
  std::unique_ptr<ConnectionPool> pool_ = db_.MakePool(4);
  PgEventStore store_{*pool_};
  PgHandlerLog log_{*pool_};
  PgStepLog steps_{*pool_};
  int partition_ = 0;
  uint64_t ahead_ = 0;
};

TEST_F(LogPositionsPgTest, ADatabaseOfThisClusterIsLeftAsItIs) {
  ASSERT_TRUE(log_.Register("H", {"Confirmed"}, StartFrom::kLatest).ok());
  ASSERT_TRUE(log_.Claim("me", absl::Minutes(1), kLogPartitions).ok());
  const EventRecord events[] = {{common::NewUuid(), "Confirmed", kTicket, "a", "c", "x"}};
  ASSERT_TRUE(store_.Append(events).ok());
  const std::string before =
      db_.QueryValue("SELECT string_agg(tx::text, ',' ORDER BY sequence) FROM events");
  absl::StatusOr<LogPositionsCheck> check = RebaseForeignLogPositions(*pool_);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->rebased);
  EXPECT_GT(check->stored_max_tx, 0u);
  EXPECT_LE(check->stored_max_tx, check->cluster_next_tx);
  EXPECT_EQ(db_.QueryValue("SELECT string_agg(tx::text, ',' ORDER BY sequence) FROM events"),
            before);
  EXPECT_EQ(db_.Count("handler_checkpoints WHERE last_tx = '1'"), 0);
  EXPECT_EQ(Sequences(Read("H", 1)), (std::vector<int64_t>{1}));
}

// Old positions: seq 1 @+1, seq 3 @+2, seq 2 @+3 (took its sequence first, committed later),
// seq 4 @+4, seq 5 @+5. "H" has finished up to seq 3 (so it is past 3, not past 2) and handed
// out up to seq 2; "Done" has finished everything; "Latest" was registered after the last
// event (at the other cluster's xmax, as Register places it).
TEST_F(LogPositionsPgTest, CheckpointsMoveBelowTheFirstEventTheyHadNotPassed) {
  RestoredEvent(1, 1);
  RestoredEvent(2, 3);
  RestoredEvent(3, 2);
  RestoredEvent(4, 4);
  RestoredEvent(5, 5);
  db_.QueryValue("SELECT setval('events_sequence_seq', 5)");
  RestoredHandler("H", ahead_ + 2, 3, ahead_ + 3, 2);
  RestoredHandler("Done", ahead_ + 5, 5, ahead_ + 5, 5);
  RestoredHandler("Latest", ahead_ + 6, 0, ahead_ + 6, 0);
  ASSERT_TRUE(log_.Claim("me", absl::Minutes(1), kLogPartitions).ok());
  EXPECT_TRUE(Read("H").empty()) << "unrebased, the reader waits behind the other cluster's ids";

  absl::StatusOr<LogPositionsCheck> check = RebaseForeignLogPositions(*pool_);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->rebased);
  EXPECT_EQ(check->stored_max_tx, ahead_ + 6);
  EXPECT_EQ(check->events, 5);
  EXPECT_EQ(check->checkpoints, 3 * kLogPartitions);
  EXPECT_EQ(db_.QueryValue(absl::StrCat(
                "SELECT last_tx || '/' || last_sequence || '/' || read_tx || '/' || read_sequence"
                " FROM handler_checkpoints WHERE handler = 'H' AND partition = ",
                partition_)),
            "1/1/1/3");

  // A new event sorts after every rebased one.
  const EventRecord fresh[] = {{common::NewUuid(), "Confirmed", kTicket, "fresh", "c", "x"}};
  ASSERT_TRUE(store_.Append(fresh).ok());
  // 2 was never finished: it comes again, with 3 (redone) after it, then the rest.
  const std::vector<std::pair<int64_t, bool>> read = Read("H", 5);
  EXPECT_EQ(Sequences(read), (std::vector<int64_t>{2, 3, 4, 5, 6}));
  ASSERT_EQ(read.size(), 5u);
  EXPECT_TRUE(read[0].second) << "2 was handed out before";
  EXPECT_FALSE(read[2].second) << "4 was not";
  EXPECT_EQ(Sequences(Read("Done", 1)), (std::vector<int64_t>{6})) << "only the new event";
  EXPECT_EQ(Sequences(Read("Latest", 1)), (std::vector<int64_t>{6}));
  EXPECT_EQ(db_.Count("pending_deliveries WHERE handler = 'H'"), 5);
  EXPECT_EQ(db_.Count("pending_deliveries WHERE handler = 'Done'"), 1);

  // So does every later one, and a second start changes nothing.
  const EventRecord later[] = {{common::NewUuid(), "Confirmed", kTicket, "later", "c", "x"}};
  ASSERT_TRUE(store_.Append(later).ok());
  EXPECT_EQ(Sequences(Read("Done", 2)), (std::vector<int64_t>{6, 7}));
  absl::StatusOr<LogPositionsCheck> again = RebaseForeignLogPositions(*pool_);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->rebased);
}

// Old step positions: 1 @+1, 3 @+2, 2 @+3, 4 @+4. Step 2 comes after 3, so it gets a number
// after all of them; every old token then resumes without missing a step after it.
TEST_F(LogPositionsPgTest, StepsCommittedOutOfOrderAreRenumberedAndOldTokensMissNothing) {
  for (int i = 1; i <= 4; ++i) RestoredEvent(i, i);  // what the steps are about
  // The place of the one step of batch `b`.
  auto at = [](int64_t b) { return b * kStepsPerBatch + 1; };
  RestoredStep(1, 1);
  RestoredStep(2, 3);
  RestoredStep(3, 2);
  RestoredStep(4, 4);
  // Left behind the table, as a move by logical replication leaves it.
  db_.QueryValue("SELECT setval('step_batches_batch_sequence_seq', 1)");
  absl::StatusOr<LogPositionsCheck> check = RebaseForeignLogPositions(*pool_);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->rebased);
  EXPECT_EQ(check->steps, 4);
  EXPECT_EQ(check->steps_renumbered, 1);
  EXPECT_EQ(db_.QueryValue("SELECT string_agg(batch_sequence::text, ','"
                           "                  ORDER BY tx, batch_sequence) FROM step_batches"),
            "1,3,4,5")
      << "2 renumbered after the rest";
  EXPECT_EQ(db_.Count("step_batches WHERE event_sequences = '{2}' AND batch_sequence = 5"), 1);

  // Old tokens, also one from after this cluster's ids passed the old tx (the rebased step
  // tells), and a token of the renumbered step itself.
  struct Case {
    LogPosition token;
    std::vector<int64_t> then;
  };
  const Case cases[] = {
      {{ahead_ + 1, at(1)}, {at(3), at(4), at(5)}},
      {{ahead_ + 2, at(3)}, {at(4), at(5)}},
      {{5, at(3)}, {at(4), at(5)}},
      {{ahead_ + 3, at(2)}, {at(3), at(4), at(5)}},  // 3 again: seen before 2, harmless
      {{ahead_ + 4, at(4)}, {at(5)}},                // 5 is step 2 again: never missed
  };
  for (const Case& c : cases) {
    absl::StatusOr<LogPosition> resumed = steps_.Resume(c.token);
    ASSERT_TRUE(resumed.ok()) << resumed.status();
    EXPECT_EQ(resumed->tx, kRebasedTx) << c.token.tx << "." << c.token.sequence;
    EXPECT_EQ(StepsAfter(*resumed, c.then.size()), c.then) << c.token.tx << "." << c.token.sequence;
  }
  // A token of this cluster is taken as it is.
  const EventRecord fresh[] = {{common::NewUuid(), "Confirmed", kTicket, "fresh", "c", "x"}};
  ASSERT_TRUE(store_.Append(fresh).ok());
  const std::vector<int64_t> all = StepsAfter({}, 5);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all.back(), at(6)) << "a new step sorts after the rebased ones";
  absl::StatusOr<LogPosition> latest = steps_.Latest();
  ASSERT_TRUE(latest.ok());
  EXPECT_GT(latest->tx, kRebasedTx);
  absl::StatusOr<LogPosition> same = steps_.Resume(*latest);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, *latest);
}

TEST_F(LogPositionsPgTest, InstancesStartingTogetherRebaseOnce) {
  for (int i = 1; i <= 50; ++i) RestoredEvent(i, i);
  std::atomic<int> rebased{0}, failed{0};
  std::vector<std::thread> instances;
  for (int i = 0; i < 4; ++i) {
    instances.emplace_back([&] {
      std::unique_ptr<ConnectionPool> pool = db_.MakePool(1);
      absl::StatusOr<LogPositionsCheck> check = RebaseForeignLogPositions(*pool);
      if (!check.ok()) {
        ++failed;
      } else if (check->rebased) {
        ++rebased;
      }
    });
  }
  for (std::thread& t : instances) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(rebased.load(), 1);
  EXPECT_EQ(db_.Count("events WHERE tx = '1'"), 50);
}

TEST_F(LogPositionsPgTest, FiguresForOneHundredThousandEvents) {
  constexpr int kEvents = 100'000;
  for (const char* handler : {"A", "B", "C"}) {
    ASSERT_TRUE(log_.Register(handler, {"Confirmed"}, StartFrom::kEarliest).ok());
  }
  // Spread over the partitions, ten per transaction; "A" finished, "B" half way, "C" nothing.
  db_.Exec(absl::StrCat(
      "INSERT INTO events (sequence, event_id, event_type, ticket_id, idempotency_key,"
      " correlation_id, payload, partition, tx)"
      " SELECT i, gen_random_uuid(), 'Confirmed', gen_random_uuid(), 'k' || i, 'c', 'x', i % 16,"
      " (",
      ahead_, " + i / 10)::text::xid8 FROM generate_series(1, ", kEvents, ") i"));
  db_.Exec(
      absl::StrCat("INSERT INTO step_batches (batch_sequence, tx, step, event_sequences)"
                   " SELECT i, (",
                   ahead_, " + i / 10)::text::xid8, 'accepted', ARRAY[i::bigint]",
                   " FROM generate_series(1, ", kEvents, ") i"));
  db_.Exec(absl::StrCat("UPDATE handler_checkpoints SET last_tx = '", ahead_ + kEvents / 10,
                        "', last_sequence = ", kEvents, " WHERE handler = 'A'"));
  db_.Exec(absl::StrCat("UPDATE handler_checkpoints SET last_tx = '", ahead_ + kEvents / 20,
                        "', last_sequence = ", kEvents / 2, " WHERE handler = 'B'"));
  const long long pending_b = db_.Count("pending_deliveries WHERE handler = 'B'");
  absl::StatusOr<LogPositionsCheck> check = RebaseForeignLogPositions(*pool_);
  ASSERT_TRUE(check.ok()) << check.status();
  ASSERT_TRUE(check->rebased);
  EXPECT_EQ(check->events, kEvents);
  EXPECT_EQ(check->steps, kEvents);
  std::printf("[ figures  ] rebase of %d events, %d steps, %lld checkpoints: %.0f ms\n", kEvents,
              kEvents, static_cast<long long>(check->checkpoints),
              absl::ToDoubleMilliseconds(check->took));
  EXPECT_EQ(db_.Count("pending_deliveries WHERE handler = 'A'"), 0);
  EXPECT_EQ(db_.Count("pending_deliveries WHERE handler = 'B'"), pending_b)
      << "in order, a checkpoint moves exactly: nothing redone";
  EXPECT_EQ(db_.Count("pending_deliveries WHERE handler = 'C'"), kEvents);
  EXPECT_EQ(check->steps_renumbered, 0);
}

}  // namespace
}  // namespace booking::storage
