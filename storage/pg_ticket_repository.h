#pragma once

#include <vector>

#include "storage/connection_pool.h"
#include "storage/ticket_repository.h"

namespace booking::storage {

// TicketRepository on PostgreSQL. Writes are one multi-row upsert (UNNEST of array parameters)
// per batch; statements are prepared on every pooled connection.
class PgTicketRepository final : public TicketRepository {
 public:
  // The statements this repository needs prepared on every connection of its pool.
  static std::vector<PreparedStatement> Statements();

  explicit PgTicketRepository(ConnectionPool& pool) : pool_(pool) {}

  absl::Status Upsert(absl::Span<const domain::Ticket> records) override;
  absl::StatusOr<domain::Ticket> Get(std::string_view ticket_id) override;
  absl::StatusOr<std::vector<domain::Ticket>> ListActive(std::string_view after_ticket_id,
                                                         int limit) override;
  absl::StatusOr<int64_t> MaxEventSequence() override;

 private:
  ConnectionPool& pool_;
};

}  // namespace booking::storage
