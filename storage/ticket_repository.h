#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "domain/ticket.h"

namespace booking::storage {

// Where handlers store tickets and the API reads them. Implementations are thread-safe.
class TicketRepository {
 public:
  virtual ~TicketRepository() = default;

  // Inserts or updates each record, in one transaction, unless the stored row already comes from
  // a newer event (higher last_event_sequence). Applying the same records twice changes nothing.
  virtual absl::Status Upsert(absl::Span<const domain::Ticket> records) = 0;

  // NOT_FOUND when the ticket was never stored. Canceled tickets are returned.
  virtual absl::StatusOr<domain::Ticket> Get(std::string_view ticket_id) = 0;

  // Up to `limit` tickets that are not canceled, ordered by ticket_id, starting after
  // `after_ticket_id` (empty: from the first).
  virtual absl::StatusOr<std::vector<domain::Ticket>> ListActive(std::string_view after_ticket_id,
                                                                 int limit) = 0;

  // Highest last_event_sequence stored, 0 for none.
  virtual absl::StatusOr<int64_t> MaxEventSequence() = 0;
};

}  // namespace booking::storage
