#pragma once

#include <string>
#include <vector>

#include "domain/event.h"
#include "domain/event_factory.h"
#include "tests/support/bad_requests.h"

namespace booking::testing {

// A real event for one ticket, as the service builds it, with the publish order given.
inline domain::Event TicketEvent(const std::string& ticket_id, const std::string& status,
                                 int64_t sequence, const std::string& amount = "49.90") {
  tickets::v1::UpdateTicketsStatusRequest request = ValidRequest(1);
  auto* ticket = request.mutable_tickets(0);
  ticket->set_ticket_id(ticket_id);
  ticket->set_status(status);
  ticket->mutable_price()->set_amount(amount);
  domain::Event event = domain::BuildEvents(request, "key", "corr", absl::Now()).at(0);
  event.sequence = sequence;
  return event;
}

// `count` bare events with ids "start" .. "start+count-1", for queue and worker tests.
inline std::vector<domain::Event> NumberedEvents(int count, int start = 0) {
  std::vector<domain::Event> events(count);
  for (int i = 0; i < count; ++i) events[i].id = std::to_string(start + i);
  return events;
}

}  // namespace booking::testing
