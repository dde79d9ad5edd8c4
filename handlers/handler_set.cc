#include "handlers/handler_set.h"

namespace booking::handlers {

HandlerSet::HandlerSet(storage::TicketRepository& tickets, clients::ReceiptsApi& receipts,
                       clients::SpreadsheetsApi& spreadsheets, HandlerSetOptions options) {
  const HandlerDeps deps{
      .tickets = tickets, .receipts = receipts, .spreadsheets = spreadsheets, .options = options};
  for (const HandlerSpec& spec : HandlerTable()) {
    std::unique_ptr<domain::Handler> handler = spec.make(spec.name, deps);
    if (handler == nullptr) continue;  // optional, and its flag is not given
    for (std::string_view type : spec.event_types) {
      router_.Register(std::string(type), handler.get());
    }
    handlers_.push_back(std::move(handler));
  }
}

}  // namespace booking::handlers
