#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace booking::storage {

// Whether tickets were ever sold: what a cancellation needs (a refund for a ticket never
// confirmed is refused). Implementations are thread-safe; calls may block on the database, so
// the API makes them on its query threads.
class TicketHistory {
 public:
  virtual ~TicketHistory() = default;

  // Of `ticket_ids` (UUIDs), those known to be confirmed: stored in the tickets table, canceled
  // or not, or with a TicketBookingConfirmed event still in the log (not stored yet). Each once,
  // in no particular order.
  virtual absl::StatusOr<std::vector<std::string>> Confirmed(
      absl::Span<const std::string> ticket_ids) = 0;
};

}  // namespace booking::storage
