#include "storage/pg_progress_reader.h"

#include <pqxx/pqxx>

#include "common/uuid.h"
#include "storage/pg_array.h"

namespace booking::storage {
namespace {

// Pending first: a dead letter sent back for another try is pending again, whatever the
// checkpoint says. Retired handlers are left out: nobody runs them, so no wait is for them.
constexpr char kProgress[] = R"sql(
SELECT e.idempotency_key, e.ticket_id::text, h.handler,
       CASE WHEN EXISTS (SELECT 1 FROM deliveries r
                         WHERE r.sequence = e.sequence AND r.handler = h.handler) THEN 0
            WHEN EXISTS (SELECT 1 FROM dead_letters d
                         WHERE d.sequence = e.sequence AND d.handler = h.handler) THEN 2
            WHEN c.handler IS NOT NULL
                 AND (e.tx, e.sequence) <= (c.last_tx, c.last_sequence) THEN 1
            ELSE 0 END
FROM events e
JOIN handlers h ON e.event_type = ANY (h.event_types) AND h.retired_at IS NULL
LEFT JOIN handler_checkpoints c ON c.handler = h.handler AND c.partition = e.partition
WHERE e.ticket_id = ANY($2::uuid[]) AND e.idempotency_key = ANY($1::text[])
)sql";

// An event's key is its call's key + "/" + its ticket id: the ticket finds the event (an index
// lookup), the key picks it among the ticket's events.
std::string TicketOfKey(const std::string& key) {
  const size_t slash = key.rfind('/');
  return slash == std::string::npos ? std::string() : key.substr(slash + 1);
}

}  // namespace

absl::StatusOr<std::vector<HandlerState>> PgProgressReader::Read(
    absl::Span<const std::string> idempotency_keys) {
  std::vector<HandlerState> states;
  if (idempotency_keys.empty()) return states;
  const std::string keys =
      ToPgArrayLiteral(idempotency_keys, [](const std::string& key) { return key; });
  std::vector<std::string> tickets;
  for (const std::string& key : idempotency_keys) {
    std::string ticket = TicketOfKey(key);
    if (common::IsUuid(ticket)) tickets.push_back(std::move(ticket));
  }
  if (tickets.empty()) return states;
  const std::string ticket_array = ToPgArrayLiteral(absl::Span<const std::string>(tickets),
                                                    [](const std::string& t) { return t; });
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    states.clear();
    for (const auto& row : txn.exec_params(kProgress, keys, ticket_array)) {
      HandlerState state;
      state.idempotency_key = row[0].as<std::string>();
      state.ticket_id = row[1].as<std::string>();
      state.handler = row[2].as<std::string>();
      const int code = row[3].as<int>();
      state.state = code == 1   ? HandlerState::State::kFinished
                    : code == 2 ? HandlerState::State::kDeadLettered
                                : HandlerState::State::kPending;
      states.push_back(std::move(state));
    }
  });
  if (!status.ok()) return status;
  return states;
}

}  // namespace booking::storage
