#include "handlers/issue_receipt.h"

#include "domain/ticket_event.h"

namespace booking::handlers {

absl::Status IssueReceipt::Handle(absl::Span<const domain::Event* const> events) {
  std::vector<domain::ReceiptRequest> receipts;
  receipts.reserve(events.size());
  for (const domain::Event* event : events) {
    absl::StatusOr<domain::Ticket> ticket = domain::ParseTicketEvent(*event);
    if (!ticket.ok()) return ticket.status();
    receipts.push_back({event->idempotency_key, ticket->ticket_id, ticket->price_amount,
                        ticket->price_currency, event->correlation_id, &event->note});
  }
  return receipts_.Issue(receipts);
}

void IssueReceipt::HandleEach(absl::Span<const domain::Event* const> events,
                              absl::Span<absl::Status> results) {
  std::vector<domain::ReceiptRequest> receipts;
  std::vector<size_t> index;  // receipts[i] is for events[index[i]]
  for (size_t i = 0; i < events.size(); ++i) {
    absl::StatusOr<domain::Ticket> ticket = domain::ParseTicketEvent(*events[i]);
    if (!ticket.ok()) {
      results[i] = ticket.status();
      continue;
    }
    receipts.push_back({events[i]->idempotency_key, ticket->ticket_id, ticket->price_amount,
                        ticket->price_currency, events[i]->correlation_id, &events[i]->note});
    index.push_back(i);
  }
  std::vector<absl::Status> issued(receipts.size());
  receipts_.IssueEach(receipts, absl::MakeSpan(issued));
  for (size_t i = 0; i < issued.size(); ++i) results[index[i]] = std::move(issued[i]);
}

}  // namespace booking::handlers
