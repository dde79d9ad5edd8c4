#pragma once

#include <functional>
#include <vector>

#include "storage/connection_pool.h"
#include "storage/event_store.h"

namespace booking::storage {

// Points where a test can act between two steps that production runs back to back (kill a
// connection, hold a lock); unset in production.
struct PgEventStoreHooks {
  std::function<void()> after_append;  // the append statement committed; nothing read since
  std::function<void()> after_prune;   // a prune deleted events; its transaction is still open
};

// EventStore on PostgreSQL: an append is one statement from array parameters, each event in the
// partition of its ticket, which also reads what is remembered for the calls' known keys.
class PgEventStore final : public EventStore {
 public:
  static std::vector<PreparedStatement> Statements();

  explicit PgEventStore(ConnectionPool& pool, PgEventStoreHooks hooks = {})
      : pool_(pool), hooks_(std::move(hooks)) {}

  using EventStore::Append;
  absl::StatusOr<AppendOutcome> Append(absl::Span<const CallRecord> calls,
                                       absl::Span<const EventRecord> events,
                                       absl::Span<const int> call_of) override;
  absl::StatusOr<DeadLetterPage> ListDeadLetters(const DeadLetterFilter& filter,
                                                 int limit) override;
  absl::StatusOr<int> RetryDeadLetters(absl::Span<const std::pair<int64_t, std::string>> ids,
                                       bool dry_run) override;
  absl::StatusOr<int> RetryMatching(const DeadLetterFilter& filter, bool dry_run) override;
  absl::StatusOr<ReplayOutcome> Replay(const std::string& handler, const ReplayRange& range,
                                       int64_t max_events) override;
  absl::StatusOr<int64_t> CountPending() override;
  absl::StatusOr<int> PruneFinished(absl::Duration older_than, int limit) override;
  absl::StatusOr<int> SweepOrphans() override;

 private:
  ConnectionPool& pool_;
  const PgEventStoreHooks hooks_;
};

}  // namespace booking::storage
