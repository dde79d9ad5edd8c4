#include "storage/pg_statements.h"

#include "storage/pg_event_store.h"
#include "storage/pg_handler_log.h"
#include "storage/pg_handler_registry.h"
#include "storage/pg_receipt_repository.h"
#include "storage/pg_ticket_history.h"
#include "storage/pg_ticket_repository.h"
#include "storage/pg_tracker_repository.h"

namespace booking::storage {

std::vector<PreparedStatement> AllPreparedStatements() {
  std::vector<PreparedStatement> all;
  for (auto statements :
       {PgTicketRepository::Statements(), PgReceiptRepository::Statements(),
        PgTrackerRepository::Statements(), PgEventStore::Statements(), PgHandlerLog::Statements(),
        PgHandlerRegistry::Statements(), PgTicketHistory::Statements()}) {
    for (auto& statement : statements) all.push_back(std::move(statement));
  }
  return all;
}

}  // namespace booking::storage
