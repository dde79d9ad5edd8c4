#pragma once

#include <vector>

#include "storage/connection_pool.h"
#include "storage/event_store.h"

namespace booking::storage {

// EventStore on PostgreSQL: appends are one statement (events, then their deliveries, from
// array parameters); claims use FOR UPDATE SKIP LOCKED so instances never take the same row.
class PgEventStore final : public EventStore {
 public:
  static std::vector<PreparedStatement> Statements();

  explicit PgEventStore(ConnectionPool& pool) : pool_(pool) {}

  absl::StatusOr<std::vector<EventRecord>> Append(absl::Span<const EventRecord> events,
                                                  absl::Span<const Route> routes,
                                                  const std::string& owner,
                                                  absl::Duration lease) override;
  absl::StatusOr<std::vector<DeliveryRecord>> ClaimDue(const std::string& owner,
                                                       absl::Duration lease, int limit) override;
  absl::Status Record(absl::Span<const DeliveryOutcome> outcomes) override;
  absl::StatusOr<std::vector<DeadLetterRecord>> ListDeadLetters(int limit) override;
  absl::StatusOr<int> RetryDeadLetters(absl::Span<const std::pair<int64_t, std::string>> ids,
                                       bool all) override;
  absl::StatusOr<int64_t> CountPending() override;
  absl::StatusOr<int> PruneFinished(absl::Duration older_than, int limit) override;

 private:
  ConnectionPool& pool_;
};

}  // namespace booking::storage
