#pragma once

#include <memory>
#include <string>
#include <vector>

#include "clients/receipts_api.h"
#include "clients/spreadsheets_api.h"
#include "handlers/append_to_sheet.h"
#include "handlers/issue_receipt.h"
#include "handlers/publish_to_jetstream.h"
#include "handlers/store_tickets.h"
#include "pipeline/router.h"
#include "storage/ticket_repository.h"

namespace booking::handlers {

// Every handler of the service and the event types each is registered for: the one place that
// says what happens to an event. Built by the application and by the tests, so both run the same
// routes. Adding a handler: a member here, one Register line in the constructor.
struct HandlerSetOptions {
  std::string audit_sheet;  // non-empty: AppendToAudit copies confirmed tickets to this sheet
  clients::EventPublisher* broker =
      nullptr;  // non-null: PublishToJetStream relays every event to it
};

class HandlerSet {
 public:
  HandlerSet(storage::TicketRepository& tickets, clients::ReceiptsApi& receipts,
             clients::SpreadsheetsApi& spreadsheets, HandlerSetOptions options = {});
  HandlerSet(const HandlerSet&) = delete;
  HandlerSet& operator=(const HandlerSet&) = delete;

  pipeline::Router& router() { return router_; }
  const pipeline::Router& router() const { return router_; }

  // The handlers that write the `tickets` row: what a call asking for STORED waits for.
  static std::vector<std::string> StoringHandlers();
  // Every handler this service may register, optional ones included (for checking flags).
  static std::vector<std::string> AllNames();

 private:
  StoreTickets store_confirmed_;
  IssueReceipt issue_receipt_;
  AppendToSheet append_to_tracker_;
  StoreTickets store_canceled_;
  AppendToSheet append_to_refund_;
  std::unique_ptr<AppendToSheet> append_to_audit_;  // optional
  std::unique_ptr<PublishToJetStream> relay_;       // optional
  pipeline::Router router_;
};

}  // namespace booking::handlers
