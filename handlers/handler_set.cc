#include "handlers/handler_set.h"

#include "domain/handler_names.h"

namespace booking::workers {

HandlerSet::HandlerSet(storage::TicketRepository& tickets, ReceiptsApi& receipts,
                       SpreadsheetsApi& spreadsheets, HandlerSetOptions options)
    : store_confirmed_(kStoreTickets, tickets),
      issue_receipt_(receipts),
      append_to_tracker_(std::string(kAppendToTracker), std::string(kTicketsToPrintSheet),
                         spreadsheets),
      store_canceled_(kStoreCanceledTickets, tickets),
      append_to_refund_(std::string(kAppendToRefund), std::string(kTicketsToRefundSheet),
                        spreadsheets) {
  const std::string confirmed(kTicketConfirmed);
  const std::string canceled(kTicketCanceled);
  router_.Register(confirmed, &store_confirmed_);
  router_.Register(confirmed, &issue_receipt_);
  router_.Register(confirmed, &append_to_tracker_);
  router_.Register(canceled, &store_canceled_);
  router_.Register(canceled, &append_to_refund_);
  if (!options.audit_sheet.empty()) {
    append_to_audit_ = std::make_unique<AppendToSheet>(std::string(kAppendToAudit),
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
  return {std::string(kStoreTickets), std::string(kStoreCanceledTickets)};
}

std::vector<std::string> HandlerSet::AllNames() {
  return {std::string(kStoreTickets),      std::string(kIssueReceipt),
          std::string(kAppendToTracker),   std::string(kStoreCanceledTickets),
          std::string(kAppendToRefund),    std::string(kAppendToAudit),
          std::string(kPublishToJetStream)};
}

}  // namespace booking::workers
