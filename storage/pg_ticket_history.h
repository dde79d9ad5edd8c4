#pragma once

#include <vector>

#include "storage/connection_pool.h"
#include "storage/ticket_history.h"

namespace booking::storage {

// TicketHistory on PostgreSQL: one statement over the tickets table (its primary key) and the
// log's events by ticket (events_ticket); pruned events are long stored by then.
class PgTicketHistory final : public TicketHistory {
 public:
  static std::vector<PreparedStatement> Statements();

  explicit PgTicketHistory(ConnectionPool& pool) : pool_(pool) {}

  absl::StatusOr<std::vector<std::string>> Confirmed(
      absl::Span<const std::string> ticket_ids) override;

 private:
  ConnectionPool& pool_;
};

}  // namespace booking::storage
