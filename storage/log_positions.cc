#include "storage/log_positions.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"
#include "storage/migrations.h"

namespace booking::storage {
namespace {

// The highest stored tx, cheaply: per (partition, event type's hash) of `events`, found by a loose
// scan of the position index (a few probes each, not a read of the table), then the top of the
// index, and the checkpoints. xid8 has no max() before PostgreSQL 16, hence ORDER BY ... LIMIT 1.
constexpr char kStoredMaxTx[] = R"sql(
WITH RECURSIVE kinds AS (
  (SELECT partition, hashtext(event_type) AS kind FROM events
   ORDER BY partition, hashtext(event_type) LIMIT 1)
  UNION ALL
  SELECT n.partition, n.kind FROM kinds k CROSS JOIN LATERAL (
    SELECT e.partition, hashtext(e.event_type) AS kind FROM events e
    WHERE (e.partition, hashtext(e.event_type)) > (k.partition, k.kind)
    ORDER BY e.partition, hashtext(e.event_type) LIMIT 1) n
), highest AS (
  SELECT m.tx FROM kinds k CROSS JOIN LATERAL (
    SELECT e.tx FROM events e WHERE e.partition = k.partition AND hashtext(e.event_type) = k.kind
    ORDER BY e.tx DESC LIMIT 1) m
  UNION ALL (SELECT tx FROM step_batches ORDER BY tx DESC LIMIT 1)
  UNION ALL SELECT greatest(last_tx, read_tx) FROM handler_checkpoints
)
SELECT coalesce((SELECT tx FROM highest ORDER BY tx DESC LIMIT 1), '0')::text,
       pg_snapshot_xmax(pg_current_snapshot())::text
)sql";

// Runs before the events are rewritten: it reads their old positions. For each checkpoint, the
// smallest sequence of its partition and types past the old position, less one: every event at
// or below it was passed; those above (the few committed out of order among them) come again.
// Nothing past it: the highest sequence there (or 0 when there is none).
constexpr char kRebaseCheckpoints[] = R"sql(
UPDATE handler_checkpoints c
SET last_tx = $1::text::xid8, last_sequence = n.last_sequence,
    read_tx = $1::text::xid8, read_sequence = n.read_sequence, updated_at = now()
FROM (
  SELECT c.handler, c.partition,
         coalesce((SELECT min(e.sequence) - 1 FROM events e
                   WHERE e.partition = c.partition AND e.event_type = ANY (h.event_types)
                     AND (e.tx, e.sequence) > (c.last_tx, c.last_sequence)),
                  (SELECT max(e.sequence) FROM events e
                   WHERE e.partition = c.partition AND e.event_type = ANY (h.event_types)),
                  0) AS last_sequence,
         coalesce((SELECT min(e.sequence) - 1 FROM events e
                   WHERE e.partition = c.partition AND e.event_type = ANY (h.event_types)
                     AND (e.tx, e.sequence) > (c.read_tx, c.read_sequence)),
                  (SELECT max(e.sequence) FROM events e
                   WHERE e.partition = c.partition AND e.event_type = ANY (h.event_types)),
                  0) AS read_sequence
  FROM handler_checkpoints c LEFT JOIN handlers h ON h.handler = c.handler
) n
WHERE c.handler = n.handler AND c.partition = n.partition
)sql";

constexpr char kRebaseEvents[] = "UPDATE events SET tx = $1::text::xid8 WHERE tx <> $1::text::xid8";

// A move by logical replication does not carry sequences: one behind its table would give
// numbers already taken (the steps renumbered below among them).
constexpr char kRaiseSequences[] = R"sql(
SELECT setval(x.seq, x.top)
FROM (VALUES (pg_get_serial_sequence('events', 'sequence')::regclass,
              (SELECT max(sequence) FROM events)),
             (pg_get_serial_sequence('step_batches', 'batch_sequence')::regclass,
              (SELECT max(batch_sequence) FROM step_batches))) AS x(seq, top)
WHERE x.top > coalesce(pg_sequence_last_value(x.seq), 0)
)sql";

// A batch of steps is renumbered when a batch before it (by the old positions) has a higher
// batch_sequence: with every tx equal, it would otherwise sort before that one, and a watcher
// resuming from there would miss its steps. New numbers come from the table's sequence (above
// every batch), in the old order. Batches rebased earlier (tx = kRebasedTx) come first and in
// order: never moved.
constexpr char kRenumberLateSteps[] = R"sql(
WITH ordered AS MATERIALIZED (
  SELECT tx, batch_sequence,
         max(batch_sequence) OVER (ORDER BY tx, batch_sequence
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS passed
  FROM step_batches
), late AS MATERIALIZED (
  SELECT tx, batch_sequence FROM ordered WHERE passed > batch_sequence
  ORDER BY tx, batch_sequence
), renumbered AS MATERIALIZED (
  SELECT tx, batch_sequence,
         nextval(pg_get_serial_sequence('step_batches', 'batch_sequence')) AS fresh
  FROM late
)
UPDATE step_batches s SET batch_sequence = r.fresh
FROM renumbered r WHERE s.tx = r.tx AND s.batch_sequence = r.batch_sequence
)sql";

constexpr char kRebaseSteps[] =
    "UPDATE step_batches SET tx = $1::text::xid8 WHERE tx <> $1::text::xid8";

}  // namespace

absl::StatusOr<LogPositionsCheck> RebaseForeignLogPositions(ConnectionPool& pool) {
  LogPositionsCheck check;
  const absl::Time start = absl::Now();
  const std::string rebased_tx = std::to_string(kRebasedTx);
  // A rebase rewrites whole tables once; bounded generously rather than by the pool's short
  // transaction bound.
  absl::Status status = pool.Transact(
      [&](pqxx::transaction_base& txn) {
        check = {};
        // Another instance may be migrating or rebasing: wait for it, then look again.
        txn.exec0("SET LOCAL statement_timeout = '60s'");
        txn.exec_params("SELECT pg_advisory_xact_lock($1)", kSchemaLockKey);
        const pqxx::row found = txn.exec1(kStoredMaxTx);
        check.stored_max_tx = found[0].as<uint64_t>();
        check.cluster_next_tx = found[1].as<uint64_t>();
        if (check.stored_max_tx <= check.cluster_next_tx) return;
        spdlog::warn(
            "stored log positions are ahead of this cluster's transaction ids (a restore, a move "
            "or pg_resetwal?): without a rebase every handler and watcher would wait behind them; "
            "rebasing stored_max_tx={} cluster_next_tx={}",
            check.stored_max_tx, check.cluster_next_tx);
        txn.exec0("SET LOCAL statement_timeout = 0");
        check.checkpoints = txn.exec_params0(kRebaseCheckpoints, rebased_tx).affected_rows();
        check.events = txn.exec_params0(kRebaseEvents, rebased_tx).affected_rows();
        txn.exec(kRaiseSequences);
        check.steps_renumbered = txn.exec0(kRenumberLateSteps).affected_rows();
        check.steps = txn.exec_params0(kRebaseSteps, rebased_tx).affected_rows();
        check.rebased = true;
      },
      absl::Hours(1));
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat("rebasing log positions: ", status.message()));
  }
  check.took = absl::Now() - start;
  if (check.rebased) {
    spdlog::warn(
        "log positions rebased onto this cluster tx={} events={} checkpoints={} steps={} "
        "steps_renumbered={} took_ms={}",
        kRebasedTx, check.events, check.checkpoints, check.steps, check.steps_renumbered,
        absl::ToInt64Milliseconds(check.took));
  }
  return check;
}

}  // namespace booking::storage
