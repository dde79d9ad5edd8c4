#include "storage/pg_step_log.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "storage/log_positions.h"
#include "storage/pg_array.h"

namespace booking::storage {
namespace {

// Steps are rows of `step_batches`, one per kind of step per transaction, each listing its
// events: a step is one element, at (tx, batch_sequence * kStepsPerBatch + its ordinal).
// (Statements order by `b.tx`: a bare `tx` would be the text output column, sorted as text,
// which reverses ids of different lengths and can use no index.)
constexpr char kColumns[] =
    "b.tx::text, b.batch_sequence * 4096 + x.i, e.ticket_id::text, b.step, b.handler,"
    " CASE WHEN b.step = 'accepted' THEN e.event_type ELSE coalesce(b.details[x.i], '') END,"
    " e.correlation_id, (extract(epoch FROM b.at) * 1000000)::bigint,"
    " (extract(epoch FROM b.next_attempts[x.i]) * 1000000)::bigint";
static_assert(kStepsPerBatch == 4096, "kColumns, the view ticket_steps");

// The first `limit` batches in order (an index range: every batch holds a step at least), then
// their steps: a read far behind the end sorts a bounded number of steps, not the rest of the
// table. `batch_where` is on b's columns; the caller filters steps within their batch.
std::string Expand(const std::string& batch_where, const char* limit) {
  return absl::StrCat(
      " FROM (SELECT * FROM step_batches b WHERE ", batch_where,
      " ORDER BY b.tx, b.batch_sequence LIMIT ", limit,
      ") b"
      " CROSS JOIN LATERAL unnest(b.event_sequences) WITH ORDINALITY AS x(sequence, i)"
      " JOIN events e ON e.sequence = x.sequence");
}

// Transactions older than every one still running can add no more rows.
constexpr char kStable[] = "b.tx < pg_snapshot_xmin(pg_current_snapshot())";

// After ($1 tx, $2 sequence): the batch first (an index range), then the step within it.
constexpr char kBatchAfter[] = "(b.tx, b.batch_sequence) >= ($1::text::xid8, $2::bigint / 4096)";
constexpr char kAfter[] = "(b.tx, b.batch_sequence * 4096 + x.i) > ($1::text::xid8, $2::bigint)";

constexpr char kOrder[] = " ORDER BY b.tx, b.batch_sequence, x.i";

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
    const pqxx::result result = txn.exec(
        absl::StrCat("SELECT b.tx::text, b.batch_sequence * 4096 + cardinality(b.event_sequences)"
                     " FROM step_batches b WHERE ",
                     kStable, " ORDER BY b.tx DESC, b.batch_sequence DESC LIMIT 1"));
    if (!result.empty()) latest = {result[0][0].as<uint64_t>(), result[0][1].as<int64_t>()};
  });
  if (!status.ok()) return status;
  return latest;
}

absl::StatusOr<std::vector<StepRecord>> PgStepLog::ReadAfter(LogPosition after, int limit) {
  std::vector<StepRecord> steps;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    steps = Rows(txn.exec_params(
        absl::StrCat("SELECT ", kColumns, Expand(absl::StrCat(kBatchAfter, " AND ", kStable), "$3"),
                     " WHERE ", kAfter, kOrder, " LIMIT $3"),
        std::to_string(after.tx), after.sequence, limit));
  });
  if (!status.ok()) return status;
  return steps;
}

absl::StatusOr<std::vector<StepRecord>> PgStepLog::ReadRange(
    absl::Span<const std::string> ticket_ids, LogPosition after, LogPosition upto, int limit) {
  std::vector<StepRecord> steps;
  constexpr char kBatchUpto[] =
      " AND (b.tx, b.batch_sequence) <= ($3::text::xid8, $4::bigint / 4096)";
  constexpr char kUpto[] =
      " AND (b.tx, b.batch_sequence * 4096 + x.i) <= ($3::text::xid8, $4::bigint)";
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    if (ticket_ids.empty()) {
      steps = Rows(txn.exec_params(
          absl::StrCat("SELECT ", kColumns, Expand(absl::StrCat(kBatchAfter, kBatchUpto), "$5"),
                       " WHERE ", kAfter, kUpto, kOrder, " LIMIT $5"),
          std::to_string(after.tx), after.sequence, std::to_string(upto.tx), upto.sequence, limit));
      return;
    }
    // The tickets' events (an index lookup each), then the rows whose range holds one of them.
    const std::string ids = ToPgArrayLiteral(ticket_ids, [](const std::string& id) { return id; });
    steps = Rows(txn.exec_params(
        absl::StrCat("SELECT ", kColumns,
                     " FROM events e"
                     " JOIN step_batches b ON int8range(b.event_sequences[1],"
                     "   b.event_sequences[cardinality(b.event_sequences)], '[]') @> e.sequence"
                     " CROSS JOIN LATERAL unnest(b.event_sequences) WITH ORDINALITY"
                     "   AS x(sequence, i)"
                     " WHERE e.ticket_id = ANY ($6::uuid[]) AND x.sequence = e.sequence AND ",
                     kBatchAfter, kBatchUpto, " AND ", kAfter, kUpto, kOrder, " LIMIT $5"),
        std::to_string(after.tx), after.sequence, std::to_string(upto.tx), upto.sequence, limit,
        ids));
  });
  if (!status.ok()) return status;
  return steps;
}

absl::StatusOr<LogPosition> PgStepLog::Resume(LogPosition token) {
  // On one cluster a token's tx is always below pg_snapshot_xmax (it was stable when sent), and
  // a token names a step of one batch, so a rebased batch under a token with another tx means
  // the token is older than the rebase, even once this cluster's ids have passed its tx.
  LogPosition resumed = token;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    const pqxx::row row = txn.exec_params1(
        "SELECT $1::text::xid8 > $3::text::xid8"
        "   AND ($1::text::xid8 > pg_snapshot_xmax(pg_current_snapshot())"
        "        OR EXISTS (SELECT 1 FROM step_batches"
        "                   WHERE tx = $3::text::xid8 AND batch_sequence = $2::bigint / 4096))",
        std::to_string(token.tx), token.sequence, std::to_string(kRebasedTx));
    resumed = token;
    if (row[0].as<bool>()) resumed.tx = kRebasedTx;
  });
  if (!status.ok()) return status;
  return resumed;
}

}  // namespace booking::storage
