#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/connection_pool.h"

namespace booking::storage {

// Where rebased positions go: below every transaction id a cluster hands out (the first normal
// one is 3), so each event, checkpoint and step written afterwards sorts after all of them.
inline constexpr uint64_t kRebasedTx = 1;

// What a start-up check of the stored log positions found and did.
struct LogPositionsCheck {
  uint64_t stored_max_tx = 0;    // highest tx of events, checkpoints and steps (0: none)
  uint64_t cluster_next_tx = 0;  // pg_snapshot_xmax(pg_current_snapshot()) at the check
  bool rebased = false;
  // Rows given rebased positions (only when rebased).
  int64_t events = 0;
  int64_t checkpoints = 0;
  int64_t steps = 0;             // batches of steps (rows of step_batches)
  int64_t steps_renumbered = 0;  // batches committed out of order, given a new batch_sequence
  absl::Duration took;
};

// Log positions are (tx xid8, sequence) pairs, and tx is the appending transaction's id in THIS
// cluster. After pg_dump/restore into another cluster, a move by logical replication or
// pg_resetwal, the stored tx values can be ahead of the new cluster's transaction ids, and every
// reader would wait behind them for ever (handlers skipping every new event, lag 0). On one
// cluster a stored tx is never above pg_snapshot_xmax, so that is what is checked.
//
// When positions are ahead, rewrites them in one transaction, under the migrations' advisory lock
// (instances starting together rebase once): every event and step gets tx = kRebasedTx, so they
// keep their relative order by sequence; each checkpoint (finished and handed-out) moves to one
// less than the smallest sequence of its partition and event type that it had not passed (or the
// highest it had passed), computed from the old positions first, so a handler may redo a few
// events committed out of order but never skips one; a step committed out of order (a lower
// step_sequence after a higher one) is renumbered after all others, so a watcher resuming from
// any old token (see StepLog::Resume) may see it twice but never misses it. Sequences left
// behind their tables (logical replication does not carry them) are raised. Logs loudly.
[[nodiscard]] absl::StatusOr<LogPositionsCheck> RebaseForeignLogPositions(ConnectionPool& pool);

}  // namespace booking::storage
