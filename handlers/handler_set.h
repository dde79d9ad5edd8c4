#pragma once

#include <memory>
#include <string>
#include <vector>

#include "domain/handler.h"
#include "handlers/handler_table.h"
#include "pipeline/router.h"

namespace booking::handlers {

// The handlers of HandlerTable() that these options turn on, registered for their event types.
// Built by the application and by the tests, so both run the same routes.
class HandlerSet {
 public:
  HandlerSet(storage::TicketRepository& tickets, clients::ReceiptsApi& receipts,
             clients::SpreadsheetsApi& spreadsheets, HandlerSetOptions options = {});
  HandlerSet(const HandlerSet&) = delete;
  HandlerSet& operator=(const HandlerSet&) = delete;

  pipeline::Router& router() { return router_; }
  const pipeline::Router& router() const { return router_; }

 private:
  std::vector<std::unique_ptr<domain::Handler>> handlers_;
  pipeline::Router router_;
};

}  // namespace booking::handlers
