#include "handlers/handler_set.h"

#include "domain/handler_names.h"

namespace booking::workers {

HandlerSet::HandlerSet(storage::TicketRepository& tickets, ReceiptsApi& receipts,
                       SpreadsheetsApi& spreadsheets)
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
}

std::vector<std::string> HandlerSet::StoringHandlers() {
  return {std::string(kStoreTickets), std::string(kStoreCanceledTickets)};
}

}  // namespace booking::workers
