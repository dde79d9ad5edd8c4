#pragma once

#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "domain/event.h"
#include "tickets/v1/booking.pb.h"

namespace booking::domain {

// Makes one event per ticket of a validated request: TicketBookingConfirmed or
// TicketBookingCanceled, with a header carrying a new UUID, `published_at`, the per-event
// idempotency key (the call's key, "/", the ticket id) and the correlation id. Ids are
// lower-cased so the same ticket always has the same key.
std::vector<domain::Event> BuildEvents(const tickets::v1::UpdateTicketsStatusRequest& request,
                                       std::string_view idempotency_key,
                                       std::string_view correlation_id, absl::Time published_at);

}  // namespace booking::domain
