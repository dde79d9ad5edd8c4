#pragma once

#include <string_view>

namespace booking::domain {

// The event types (the payload's full protobuf name): stored with each event and the handlers'
// routes, and the subjects events are published under.
inline constexpr std::string_view kTicketConfirmed = "tickets.v1.TicketBookingConfirmed";
inline constexpr std::string_view kTicketCanceled = "tickets.v1.TicketBookingCanceled";

}  // namespace booking::domain
