#include "workers/issue_receipt.h"

#include "workers/ticket_event.h"

namespace booking::workers {

absl::Status IssueReceipt::Handle(absl::Span<const Event* const> events) {
  std::vector<storage::ReceiptRecord> receipts;
  receipts.reserve(events.size());
  for (const Event* event : events) {
    absl::StatusOr<storage::TicketRecord> ticket = ParseTicketEvent(*event);
    if (!ticket.ok()) return ticket.status();
    receipts.push_back({event->idempotency_key, ticket->ticket_id, ticket->price_amount,
                        ticket->price_currency, event->correlation_id});
  }
  return receipts_.Issue(receipts);
}

}  // namespace booking::workers
