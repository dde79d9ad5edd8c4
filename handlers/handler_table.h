#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "clients/event_publisher.h"
#include "clients/receipts_api.h"
#include "clients/spreadsheets_api.h"
#include "domain/handler.h"
#include "storage/ticket_repository.h"
#include "tickets/v1/booking.pb.h"

namespace booking::handlers {

struct HandlerSetOptions {
  std::string audit_sheet;  // non-empty: AppendToAudit copies confirmed tickets to this sheet
  clients::EventPublisher* broker = nullptr;  // non-null: PublishToJetStream relays every event
};

// What the handlers are built from.
struct HandlerDeps {
  storage::TicketRepository& tickets;
  clients::ReceiptsApi& receipts;
  clients::SpreadsheetsApi& spreadsheets;
  const HandlerSetOptions& options;
};

// Everything the service knows about one handler. Its name is stored in the database (handler
// progress, dead letters, ticket steps) and shown to clients (GetHandlerStatus, WatchTickets), so
// it never changes: a renamed handler would start over as a new one.
struct HandlerSpec {
  std::string_view name;
  // The event types it takes, in one lane and in log order. Two types whose work is independent
  // get two handlers instead (StoreTickets, RemoveCanceledTicket), so that one type's failures
  // never hold the other back.
  std::vector<std::string_view> event_types;
  tickets::v1::TicketStep::Kind step;  // what WatchTickets shows when it has handled a ticket
  bool stores_ticket;                  // writes the `tickets` row: what STORED waits for
  bool optional;                       // built only when its flag is given
  // Builds it; nullptr when it is optional and its flag is not given.
  std::unique_ptr<domain::Handler> (*make)(std::string_view name, const HandlerDeps& deps);
};

// Every handler of the service, in registration order: the one place that says what happens to
// an event. A new handler is its class and one row here (handler_table.cc).
absl::Span<const HandlerSpec> HandlerTable();

// Derived from the table.
std::vector<std::string> StoringHandlerNames();  // what a call asking for STORED waits for
std::vector<std::string> AllHandlerNames();      // optional ones included, for checking flags
absl::flat_hash_map<std::string, tickets::v1::TicketStep::Kind> StepKinds();

}  // namespace booking::handlers
