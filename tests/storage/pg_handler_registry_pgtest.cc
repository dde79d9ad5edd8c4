// Retired handlers (issue 24): a handler no instance runs any more stays registered with its
// checkpoints; retired, it holds back neither pruning, COMPLETED waits nor the backlog, and
// registering it again un-retires it where it was.
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/uuid.h"
#include "gtest/gtest.h"
#include "storage/migrations.h"
#include "storage/pg_event_store.h"
#include "storage/pg_handler_log.h"
#include "storage/pg_handler_registry.h"
#include "storage/pg_progress_reader.h"
#include "tests/support/test_database.h"

namespace booking::storage {
namespace {

constexpr char kTicket[] = "00000000-0000-4000-8000-000000000001";

EventRecord Event(const std::string& key) {
  return {common::NewUuid(), "Confirmed", kTicket, key, "corr", "payload"};
}

// An event's key: its call's key + "/" + its ticket (how waits find it).
std::string EventKey(const std::string& call) { return absl::StrCat(call, "/", kTicket); }

class PgHandlerRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Migrate(*pool_).ok());
    ASSERT_EQ(log_.Claim("me", absl::Minutes(1), kLogPartitions)->size(), size_t{kLogPartitions});
  }

  // Finishes the `expected` events of `handler` past its checkpoints. Readers wait for every
  // transaction in flight on the server (other tests' included): retried.
  void Finish(const std::string& handler, size_t expected) {
    std::vector<PartitionLease> leases;
    for (int p = 0; p < kLogPartitions; ++p) leases.push_back({p, 1});
    absl::StatusOr<HandlerBatchRead> batch;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    do {
      batch =
          log_.Read(handler, {.owner = "me", .partitions = leases, .event_types = {"Confirmed"}});
      ASSERT_TRUE(batch.ok()) << batch.status();
    } while (batch->events.size() < expected && absl::Now() < deadline);
    ASSERT_EQ(batch->events.size(), expected);
    HandlerProgress progress;
    progress.owner = "me";
    progress.checkpoints = batch->ends;
    ASSERT_TRUE(log_.Commit(handler, progress).ok());
  }

  int64_t Pending(const std::string& handler) {
    return db_.Count(absl::StrCat("pending_deliveries WHERE handler = '", handler, "'"));
  }

  testing::TestDatabase db_;
  std::unique_ptr<ConnectionPool> pool_ = db_.MakePool(4);
  PgEventStore store_{*pool_};
  PgHandlerLog log_{*pool_};
  PgHandlerRegistry registry_{*pool_};
  PgProgressReader progress_{*pool_};
};

TEST_F(PgHandlerRegistryTest, RetiresOnceKnowsNoStrangersAndRegisteringUnretires) {
  ASSERT_TRUE(log_.Register("Kept", {"Confirmed"}, StartFrom::kEarliest).ok());
  ASSERT_TRUE(log_.Register("Gone", {"Confirmed"}, StartFrom::kEarliest).ok());
  absl::StatusOr<std::vector<RegisteredHandler>> listed = registry_.List();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ(listed->at(0).handler, "Gone") << "by name";
  EXPECT_FALSE(listed->at(0).retired_at.has_value());

  absl::StatusOr<RegisteredHandler> retired = registry_.Retire("Gone");
  ASSERT_TRUE(retired.ok()) << retired.status();
  EXPECT_EQ(retired->event_type, "Confirmed");
  ASSERT_TRUE(retired->retired_at.has_value());
  absl::SleepFor(absl::Milliseconds(10));
  absl::StatusOr<RegisteredHandler> again = registry_.Retire("Gone");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->retired_at, retired->retired_at) << "a second retire changes nothing";
  EXPECT_FALSE(registry_.List()->at(1).retired_at.has_value()) << "Kept is not retired";

  absl::StatusOr<RegisteredHandler> unknown = registry_.Retire("Nobody");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("\"Nobody\""), std::string_view::npos);

  // Configured again somewhere: un-retired, not placed anew (it goes on from its checkpoints).
  EXPECT_EQ(log_.Register("Gone", {"Confirmed"}, StartFrom::kLatest).value_or(true), false);
  EXPECT_FALSE(registry_.List()->at(0).retired_at.has_value());
}

// AppendToAudit dropped from the configuration: registered, it blocks pruning, COMPLETED and the
// backlog; retired, it blocks none of them (its redelivery and dead letter of pruned events go
// with them); configured again, it goes on from its checkpoints over what is left.
TEST_F(PgHandlerRegistryTest, RetiredHandlerHoldsBackNeitherPruningNorCompletedNorBacklog) {
  ASSERT_TRUE(log_.Register("Kept", {"Confirmed"}, StartFrom::kEarliest).ok());
  ASSERT_TRUE(log_.Register("Gone", {"Confirmed"}, StartFrom::kEarliest).ok());
  const std::string keys[] = {EventKey("a1"), EventKey("a2"), EventKey("a3")};
  const EventRecord events[] = {Event(keys[0]), Event(keys[1]), Event(keys[2])};
  absl::StatusOr<std::vector<EventRecord>> appended = store_.Append(events);
  ASSERT_TRUE(appended.ok()) << appended.status();
  ASSERT_NO_FATAL_FAILURE(Finish("Kept", 3));
  // Gone's failures: a dead letter of the first event and a redelivery of the second.
  db_.Exec(absl::StrCat("INSERT INTO dead_letters (sequence, handler, attempts, reason) VALUES (",
                        (*appended)[0].sequence, ", 'Gone', 1, 'down')"));
  db_.Exec(absl::StrCat("INSERT INTO deliveries (sequence, handler) VALUES (",
                        (*appended)[1].sequence, ", 'Gone')"));
  db_.Exec("UPDATE events SET published_at = now() - interval '2 days'");

  // Registered and never run: it holds everything back.
  EXPECT_EQ(*store_.PruneFinished(absl::Hours(24), 100), 0);
  EXPECT_EQ(Pending("Gone"), 4) << "three past its checkpoint, one redelivery";
  absl::StatusOr<std::vector<HandlerState>> states = progress_.Read(keys);
  ASSERT_TRUE(states.ok()) << states.status();
  EXPECT_EQ(states->size(), 6u) << "Kept and Gone for each event";

  ASSERT_TRUE(registry_.Retire("Gone").ok());
  EXPECT_EQ(Pending("Gone"), 0) << "no backlog";
  EXPECT_EQ(*store_.CountPending(), 0);
  states = progress_.Read(keys);
  ASSERT_TRUE(states.ok()) << states.status();
  ASSERT_EQ(states->size(), 3u) << "COMPLETED waits for Kept only";
  for (const HandlerState& state : *states) {
    EXPECT_EQ(state.handler, "Kept");
    EXPECT_EQ(state.state, HandlerState::State::kFinished);
  }
  absl::StatusOr<ReplayOutcome> replay = store_.Replay("Gone", {.from_sequence = 1}, 100);
  EXPECT_EQ(replay.status().code(), absl::StatusCode::kFailedPrecondition) << replay.status();
  absl::StatusOr<int> pruned = store_.PruneFinished(absl::Hours(24), 100);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 3) << "pruning goes on";
  EXPECT_EQ(db_.Count("dead_letters"), 0) << "its dead letter went with its event";
  EXPECT_EQ(db_.Count("deliveries"), 0) << "its redelivery too";

  // Configured again: from its checkpoints, over the events still there.
  const EventRecord later[] = {Event("b/1")};
  ASSERT_TRUE(store_.Append(later).ok());
  ASSERT_TRUE(log_.Register("Gone", {"Confirmed"}, StartFrom::kEarliest).ok());
  EXPECT_EQ(Pending("Gone"), 1) << "b/1 only: the pruned events are gone for it";
  ASSERT_NO_FATAL_FAILURE(Finish("Gone", 1));
  EXPECT_EQ(Pending("Gone"), 0);
}

}  // namespace
}  // namespace booking::storage
