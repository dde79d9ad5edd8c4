#include "delivery/event_conversion.h"

#include "domain/stored_payload.h"

namespace booking::delivery {

storage::EventRecord ToEventRecord(const domain::Event& event) {
  // What the columns hold is not stored twice (domain/stored_payload.h).
  return {event.id,
          event.type,
          event.ticket_id,
          event.idempotency_key,
          event.correlation_id,
          domain::StoredPayload(event.type, event.payload),
          event.sequence};
}

domain::Event EventFromRecord(storage::EventRecord record) {
  domain::Event event;
  event.id = std::move(record.event_id);
  event.type = std::move(record.event_type);
  event.ticket_id = std::move(record.ticket_id);
  event.idempotency_key = std::move(record.idempotency_key);
  event.correlation_id = std::move(record.correlation_id);
  event.payload =
      domain::FullPayload(event.type, record.payload,
                          {event.id, event.idempotency_key, event.correlation_id, event.ticket_id});
  event.sequence = record.sequence;
  return event;
}

}  // namespace booking::delivery
