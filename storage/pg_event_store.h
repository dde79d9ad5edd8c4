#pragma once

#include <vector>

#include "storage/connection_pool.h"
#include "storage/event_store.h"

namespace booking::storage {

// EventStore on PostgreSQL: an append is one statement from array parameters, each event in the
// partition of its ticket.
class PgEventStore final : public EventStore {
 public:
  static std::vector<PreparedStatement> Statements();

  explicit PgEventStore(ConnectionPool& pool) : pool_(pool) {}

  using EventStore::Append;
  absl::StatusOr<AppendOutcome> Append(absl::Span<const CallRecord> calls,
                                       absl::Span<const EventRecord> events,
                                       absl::Span<const int> call_of) override;
  absl::StatusOr<std::vector<DeadLetterRecord>> ListDeadLetters(int limit) override;
  absl::StatusOr<int> RetryDeadLetters(absl::Span<const std::pair<int64_t, std::string>> ids,
                                       bool all) override;
  absl::StatusOr<ReplayOutcome> Replay(const std::string& handler, const ReplayRange& range,
                                       int64_t max_events) override;
  absl::StatusOr<int64_t> CountPending() override;
  absl::StatusOr<int> PruneFinished(absl::Duration older_than, int limit) override;

 private:
  ConnectionPool& pool_;
};

}  // namespace booking::storage
