#include "workers/append_to_sheet.h"

#include "workers/ticket_event.h"

namespace booking::workers {

absl::Status AppendToSheet::Handle(absl::Span<const Event* const> events) {
  std::vector<storage::TrackerRowRecord> rows;
  rows.reserve(events.size());
  for (const Event* event : events) {
    absl::StatusOr<storage::TicketRecord> ticket = ParseTicketEvent(*event);
    if (!ticket.ok()) return ticket.status();
    rows.push_back({event->id, ticket->ticket_id, ticket->customer_email, ticket->price_amount,
                    ticket->price_currency, event->correlation_id});
  }
  return spreadsheets_.Append(sheet_, rows);
}

}  // namespace booking::workers
