#include "handlers/append_to_sheet.h"

#include "domain/ticket_event.h"

namespace booking::handlers {

absl::Status AppendToSheet::Handle(absl::Span<const domain::Event* const> events) {
  std::vector<domain::TrackerRow> rows;
  rows.reserve(events.size());
  for (const domain::Event* event : events) {
    absl::StatusOr<domain::Ticket> ticket = domain::ParseTicketEvent(*event);
    if (!ticket.ok()) return ticket.status();
    rows.push_back({event->id, ticket->ticket_id, ticket->customer_email, ticket->price_amount,
                    ticket->price_currency, event->correlation_id});
  }
  absl::Status status = spreadsheets_.Append(sheet_, rows);
  if (status.ok()) {
    for (const domain::Event* event : events) event->note = sheet_;  // for watchers
  }
  return status;
}

void AppendToSheet::HandleEach(absl::Span<const domain::Event* const> events,
                               absl::Span<absl::Status> results) {
  std::vector<domain::TrackerRow> rows;
  std::vector<size_t> index;  // rows[i] is for events[index[i]]
  for (size_t i = 0; i < events.size(); ++i) {
    absl::StatusOr<domain::Ticket> ticket = domain::ParseTicketEvent(*events[i]);
    if (!ticket.ok()) {
      results[i] = ticket.status();
      continue;
    }
    rows.push_back({events[i]->id, ticket->ticket_id, ticket->customer_email, ticket->price_amount,
                    ticket->price_currency, events[i]->correlation_id});
    index.push_back(i);
  }
  std::vector<absl::Status> appended(rows.size());
  spreadsheets_.AppendEach(sheet_, rows, absl::MakeSpan(appended));
  for (size_t i = 0; i < appended.size(); ++i) {
    if (appended[i].ok()) events[index[i]]->note = sheet_;  // for watchers
    results[index[i]] = std::move(appended[i]);
  }
}

}  // namespace booking::handlers
