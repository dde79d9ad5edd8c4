#include "storage/pg_step_log.h"

#include <pqxx/pqxx>

#include "storage/log_positions.h"
#include "storage/pg_array.h"

namespace booking::storage {
namespace {

constexpr char kColumns[] =
    "tx::text, step_sequence, ticket_id::text, step, handler, detail, correlation_id,"
    " (extract(epoch FROM at) * 1000000)::bigint,"
    " (extract(epoch FROM next_attempt_at) * 1000000)::bigint";

// Transactions older than every one still running can add no more rows.
// (Statements order by `ticket_steps.tx`: the bare name would be the text output column, sorted
// as text, which reverses ids of different lengths and can use no index.)
constexpr char kStable[] = "tx < pg_snapshot_xmin(pg_current_snapshot())";

std::vector<StepRecord> Rows(const pqxx::result& result) {
  std::vector<StepRecord> steps;
  steps.reserve(result.size());
  for (const auto& row : result) {
    StepRecord step;
    step.position = {row[0].as<uint64_t>(), row[1].as<int64_t>()};
    step.ticket_id = row[2].as<std::string>();
    step.step = row[3].as<std::string>();
    step.handler = row[4].as<std::string>();
    step.detail = row[5].as<std::string>();
    step.correlation_id = row[6].as<std::string>();
    step.at = absl::FromUnixMicros(row[7].as<int64_t>());
    if (!row[8].is_null()) step.next_attempt_at = absl::FromUnixMicros(row[8].as<int64_t>());
    steps.push_back(std::move(step));
  }
  return steps;
}

}  // namespace

absl::StatusOr<LogPosition> PgStepLog::Latest() {
  LogPosition latest;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    latest = {};
    const pqxx::result result =
        txn.exec(std::string("SELECT tx::text, step_sequence FROM ticket_steps WHERE ") + kStable +
                 " ORDER BY ticket_steps.tx DESC, step_sequence DESC LIMIT 1");
    if (!result.empty()) latest = {result[0][0].as<uint64_t>(), result[0][1].as<int64_t>()};
  });
  if (!status.ok()) return status;
  return latest;
}

absl::StatusOr<std::vector<StepRecord>> PgStepLog::ReadAfter(LogPosition after, int limit) {
  std::vector<StepRecord> steps;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    steps =
        Rows(txn.exec_params(std::string("SELECT ") + kColumns + " FROM ticket_steps" +
                                 " WHERE (tx, step_sequence) > ($1::text::xid8, $2::bigint) AND " +
                                 kStable + " ORDER BY ticket_steps.tx, step_sequence LIMIT $3",
                             std::to_string(after.tx), after.sequence, limit));
  });
  if (!status.ok()) return status;
  return steps;
}

absl::StatusOr<std::vector<StepRecord>> PgStepLog::ReadRange(
    absl::Span<const std::string> ticket_ids, LogPosition after, LogPosition upto, int limit) {
  std::vector<StepRecord> steps;
  const std::string ids = ToPgArrayLiteral(ticket_ids, [](const std::string& id) { return id; });
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    steps = Rows(txn.exec_params(std::string("SELECT ") + kColumns + " FROM ticket_steps" +
                                     " WHERE ($1::uuid[] = '{}' OR ticket_id = ANY($1::uuid[]))"
                                     "   AND (tx, step_sequence) > ($2::text::xid8, $3::bigint)"
                                     "   AND (tx, step_sequence) <= ($4::text::xid8, $5::bigint)"
                                     " ORDER BY ticket_steps.tx, step_sequence LIMIT $6",
                                 ids, std::to_string(after.tx), after.sequence,
                                 std::to_string(upto.tx), upto.sequence, limit));
  });
  if (!status.ok()) return status;
  return steps;
}

absl::StatusOr<LogPosition> PgStepLog::Resume(LogPosition token) {
  // On one cluster a token's tx is always below pg_snapshot_xmax (it was stable when sent), and
  // step_sequence names one step, so a rebased step under a token with another tx means the
  // token is older than the rebase, even once this cluster's ids have passed its tx.
  LogPosition resumed = token;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    const pqxx::row row = txn.exec_params1(
        "SELECT $1::text::xid8 > $3::text::xid8"
        "   AND ($1::text::xid8 > pg_snapshot_xmax(pg_current_snapshot())"
        "        OR EXISTS (SELECT 1 FROM ticket_steps"
        "                   WHERE tx = $3::text::xid8 AND step_sequence = $2::bigint))",
        std::to_string(token.tx), token.sequence, std::to_string(kRebasedTx));
    resumed = token;
    if (row[0].as<bool>()) resumed.tx = kRebasedTx;
  });
  if (!status.ok()) return status;
  return resumed;
}

}  // namespace booking::storage
