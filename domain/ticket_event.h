#pragma once

#include "absl/status/statusor.h"
#include "domain/event.h"
#include "domain/ticket.h"

namespace booking::domain {

// The ticket a TicketBookingConfirmed or TicketBookingCanceled event describes, as the row it
// leads to (status from the event type, last_event_sequence from its publish order).
// INVALID_ARGUMENT, which no retry can help, for another type or a payload that does not parse.
absl::StatusOr<Ticket> ParseTicketEvent(const Event& event);

}  // namespace booking::domain
