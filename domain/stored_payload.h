#pragma once

#include <string>
#include <string_view>

namespace booking::domain {

// What an event's columns already say, which its stored payload need not repeat.
struct EventColumns {
  std::string_view event_id;
  std::string_view idempotency_key;
  std::string_view correlation_id;
  std::string_view ticket_id;
};

// A ticket event's payload as the durable log stores it: without the fields its columns hold
// (header.id, header.idempotency_key, header.correlation_id, ticket_id), about 175 of ~230 bytes.
// Other types, and bytes that are not a well-formed message, are stored as they are.
std::string StoredPayload(std::string_view type, std::string_view payload);

// The whole payload again: the columns' fields, then the stored bytes (a parser merges the two
// headers). Equal, as a message, to the payload that was stored.
std::string FullPayload(std::string_view type, std::string_view stored,
                        const EventColumns& columns);

}  // namespace booking::domain
