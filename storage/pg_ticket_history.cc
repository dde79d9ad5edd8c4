#include "storage/pg_ticket_history.h"

#include <pqxx/pqxx>

#include "storage/pg_array.h"

namespace booking::storage {
namespace {

constexpr char kConfirmed[] = "ticket_history_confirmed";

}  // namespace

std::vector<PreparedStatement> PgTicketHistory::Statements() {
  return {
      // Two index probes (tickets' key, events_ticket) joined by UNION: an OR of EXISTS may
      // be planned as hashed subplans that read whole tables.
      {kConfirmed,
       "SELECT ticket_id::text FROM tickets WHERE ticket_id = ANY($1::uuid[])"
       " UNION SELECT ticket_id::text FROM events WHERE ticket_id = ANY($1::uuid[])"
       " AND event_type = 'tickets.v1.TicketBookingConfirmed'"},
  };
}

absl::StatusOr<std::vector<std::string>> PgTicketHistory::Confirmed(
    absl::Span<const std::string> ticket_ids) {
  std::vector<std::string> out;
  if (ticket_ids.empty()) return out;
  const std::string ids = ToPgArrayLiteral(ticket_ids, [](const std::string& id) { return id; });
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    out.clear();
    for (const auto& row : txn.exec_prepared(kConfirmed, ids)) {
      out.push_back(row[0].as<std::string>());
    }
  });
  if (!status.ok()) return status;
  return out;
}

}  // namespace booking::storage
