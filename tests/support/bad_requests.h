#pragma once

#include <cstdio>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "tickets/v1/booking.pb.h"

namespace booking::testing {

// A request with `count` valid confirmed tickets whose ids start with `id_prefix` (8 hex digits).
inline tickets::v1::UpdateTicketsStatusRequest ValidRequest(
    int count = 1, const std::string& id_prefix = "5a1f3c9e", int first = 0) {
  tickets::v1::UpdateTicketsStatusRequest request;
  for (int i = first; i < first + count; ++i) {
    auto* ticket = request.add_tickets();
    char id[64];
    std::snprintf(id, sizeof(id), "%s-0b7d-4e2a-9c11-%012d", id_prefix.c_str(), i);
    ticket->set_ticket_id(id);
    ticket->set_status("confirmed");
    ticket->set_customer_email("ann@example.com");
    ticket->mutable_price()->set_amount("49.90");
    ticket->mutable_price()->set_currency("EUR");
  }
  return request;
}

// One bad request per validation rule of DESIGN.md, with the field its error must name.
struct BadRequest {
  std::string name;
  std::function<void(tickets::v1::UpdateTicketsStatusRequest&)> mutate;
  std::string field;
};

// Test names print as the rule, not as bytes.
inline void PrintTo(const BadRequest& bad, std::ostream* os) { *os << bad.name; }

inline std::vector<BadRequest> BadRequestsByRule() {
  using Request = tickets::v1::UpdateTicketsStatusRequest;
  return {
      {"NoTickets", [](Request& r) { r.clear_tickets(); }, "tickets"},
      {"TooManyTickets", [](Request& r) { r = ValidRequest(1001); }, "tickets"},
      {"DuplicateTicket",
       [](Request& r) { r.mutable_tickets(2)->set_ticket_id(r.tickets(0).ticket_id()); },
       "tickets[2].ticket_id"},
      {"TicketIdNotUuid", [](Request& r) { r.mutable_tickets(1)->set_ticket_id("T-1"); },
       "tickets[1].ticket_id"},
      {"StatusUnknown", [](Request& r) { r.mutable_tickets(1)->set_status("refunded"); },
       "tickets[1].status"},
      {"EmailMissing", [](Request& r) { r.mutable_tickets(1)->clear_customer_email(); },
       "tickets[1].customer_email"},
      {"EmailNoAt", [](Request& r) { r.mutable_tickets(1)->set_customer_email("ann"); },
       "tickets[1].customer_email"},
      {"EmailTooLong",
       [](Request& r) {
         r.mutable_tickets(1)->set_customer_email(std::string(250, 'a') + "@example.com");
       },
       "tickets[1].customer_email"},
      {"PriceMissing", [](Request& r) { r.mutable_tickets(1)->clear_price(); }, "tickets[1].price"},
      {"AmountNegative",
       [](Request& r) { r.mutable_tickets(1)->mutable_price()->set_amount("-5.00"); },
       "tickets[1].price.amount"},
      {"AmountTooPrecise",
       [](Request& r) { r.mutable_tickets(1)->mutable_price()->set_amount("5.001"); },
       "tickets[1].price.amount"},
      {"AmountTooLarge",
       [](Request& r) { r.mutable_tickets(1)->mutable_price()->set_amount("100000000"); },
       "tickets[1].price.amount"},
      {"AmountExponent",
       [](Request& r) { r.mutable_tickets(1)->mutable_price()->set_amount("5e2"); },
       "tickets[1].price.amount"},
      {"CurrencyLowerCase",
       [](Request& r) { r.mutable_tickets(2)->mutable_price()->set_currency("eur"); },
       "tickets[2].price.currency"},
      {"BookingIdNotUuid", [](Request& r) { r.mutable_tickets(0)->set_booking_id("b-1"); },
       "tickets[0].booking_id"},
  };
}

}  // namespace booking::testing
