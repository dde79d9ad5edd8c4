#include "handlers/store_tickets.h"

#include "domain/ticket_event.h"

namespace booking::workers {

absl::Status UpsertTicketsFromEvents(storage::TicketRepository& repository,
                                     absl::Span<const Event* const> events) {
  std::vector<Ticket> records;
  records.reserve(events.size());
  for (const Event* event : events) {
    absl::StatusOr<Ticket> record = ParseTicketEvent(*event);
    if (!record.ok()) return record.status();
    records.push_back(*std::move(record));
  }
  return repository.Upsert(records);
}

}  // namespace booking::workers
