#include "handlers/handler_set.h"

#include "domain/handler_names.h"

namespace booking::handlers {

HandlerSet::HandlerSet(storage::TicketRepository& tickets, clients::ReceiptsApi& receipts,
                       clients::SpreadsheetsApi& spreadsheets, HandlerSetOptions options)
    : store_confirmed_(domain::kStoreTickets, tickets),
      issue_receipt_(receipts),
      append_to_tracker_(std::string(domain::kAppendToTracker),
                         std::string(clients::kTicketsToPrintSheet), spreadsheets),
      store_canceled_(domain::kStoreCanceledTickets, tickets),
      append_to_refund_(std::string(domain::kAppendToRefund),
                        std::string(clients::kTicketsToRefundSheet), spreadsheets) {
  const std::string confirmed(domain::kTicketConfirmed);
  const std::string canceled(domain::kTicketCanceled);
  router_.Register(confirmed, &store_confirmed_);
  router_.Register(confirmed, &issue_receipt_);
  router_.Register(confirmed, &append_to_tracker_);
  router_.Register(canceled, &store_canceled_);
  router_.Register(canceled, &append_to_refund_);
  if (!options.audit_sheet.empty()) {
    append_to_audit_ = std::make_unique<AppendToSheet>(std::string(domain::kAppendToAudit),
                                                       options.audit_sheet, spreadsheets);
    router_.Register(confirmed, append_to_audit_.get());
  }
  if (options.broker != nullptr) {
    // Both types in one lane: a ticket's events leave in log order.
    relay_ = std::make_unique<PublishToJetStream>(*options.broker);
    router_.Register(confirmed, relay_.get());
    router_.Register(canceled, relay_.get());
  }
}

std::vector<std::string> HandlerSet::StoringHandlers() {
  return {std::string(domain::kStoreTickets), std::string(domain::kStoreCanceledTickets)};
}

std::vector<std::string> HandlerSet::AllNames() {
  return {std::string(domain::kStoreTickets),      std::string(domain::kIssueReceipt),
          std::string(domain::kAppendToTracker),   std::string(domain::kStoreCanceledTickets),
          std::string(domain::kAppendToRefund),    std::string(domain::kAppendToAudit),
          std::string(domain::kPublishToJetStream)};
}

}  // namespace booking::handlers
