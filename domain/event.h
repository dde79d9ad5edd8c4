#pragma once

#include <cstdint>
#include <string>

namespace booking::domain {

// An event as the pipeline moves it: the serialized payload (a tickets.v1 event message, whose
// full name is `type`) plus the header fields every stage needs without parsing it.
struct Event {
  std::string id;         // UUID, equal to the payload's header.id
  std::string type;       // e.g. "tickets.v1.TicketBookingConfirmed"
  std::string ticket_id;  // the ticket the event is about
  std::string idempotency_key;
  std::string correlation_id;
  std::string payload;  // protobuf bytes of the message named by `type`
  // Publish order, assigned by the event log when the event becomes durable; 0 before that.
  int64_t sequence = 0;
  // For the Router (in-memory log): which handler to run, empty for all of the type; and the
  // attempts it has had so far. The durable log's lanes run one handler each and ignore these.
  std::string handler;
  int attempts = 0;
  // What the handler that finished it has to say, shown to watchers (IssueReceipt: the
  // receipt's number). Written by the handler through the const pointers it is given: each lane
  // owns its copy of the event.
  mutable std::string note;
};

}  // namespace booking::domain
