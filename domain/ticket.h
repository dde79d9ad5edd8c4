#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace booking::domain {

// A ticket as the handlers store it and the API returns it. Field names match the API and the
// `tickets` table.
struct Ticket {
  std::string ticket_id;  // lower-case canonical UUID
  std::string customer_email;
  std::string price_amount;  // decimal text, e.g. "49.90"
  std::string price_currency;
  std::string status;      // "confirmed" | "canceled"
  std::string booking_id;  // empty when none
  // Publish order of the event the record comes from; a stored row is only replaced by a record
  // with a higher sequence.
  int64_t last_event_sequence = 0;
  absl::Time updated_at;  // set by the database; ignored on write
};

}  // namespace booking::domain
