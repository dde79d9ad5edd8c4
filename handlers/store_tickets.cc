#include "handlers/store_tickets.h"

#include "domain/ticket_event.h"

namespace booking::handlers {

absl::Status UpsertTicketsFromEvents(storage::TicketRepository& repository,
                                     absl::Span<const domain::Event* const> events) {
  std::vector<domain::Ticket> records;
  records.reserve(events.size());
  for (const domain::Event* event : events) {
    absl::StatusOr<domain::Ticket> record = domain::ParseTicketEvent(*event);
    if (!record.ok()) return record.status();
    records.push_back(*std::move(record));
  }
  return repository.Upsert(records);
}

}  // namespace booking::handlers
