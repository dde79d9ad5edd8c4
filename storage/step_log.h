#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "storage/handler_log.h"

namespace booking::storage {

// Steps are stored a batch per kind per transaction (`step_batches`); a step's place within its
// transaction is batch_sequence * kStepsPerBatch + its ordinal (1-based) in the batch.
inline constexpr int64_t kStepsPerBatch = 4096;

// One step (a row of the view `ticket_steps`): something that happened to a ticket.
struct StepRecord {
  LogPosition position;  // (tx, step_sequence): the order watchers read steps in
  std::string ticket_id;
  std::string step;     // "accepted", "done", "dead_lettered" or "retrying"
  std::string handler;  // empty for "accepted"
  // accepted: the event type; done: the handler's note; dead_lettered, retrying: the reason
  std::string detail;
  std::string correlation_id;
  absl::Time at;
  absl::Time next_attempt_at = absl::InfinitePast();  // "retrying": when the next attempt is due
};

// The steps of every ticket, as written by the appends and the handlers' commits of every
// instance. Positions only grow for a reader that stays behind the stable point (every
// transaction older than the oldest one still running), so a step committed late behind a
// higher sequence is never skipped. Thread-safe.
class StepLog {
 public:
  virtual ~StepLog() = default;

  // The last stable position: where a watcher that wants only new steps starts.
  [[nodiscard]] virtual absl::StatusOr<LogPosition> Latest() = 0;
  // Stable steps after `after`, in order, at most `limit`.
  [[nodiscard]] virtual absl::StatusOr<std::vector<StepRecord>> ReadAfter(LogPosition after,
                                                                          int limit) = 0;
  // Steps of these tickets (all tickets when empty) in (after, upto], in order, at most `limit`.
  [[nodiscard]] virtual absl::StatusOr<std::vector<StepRecord>> ReadRange(
      absl::Span<const std::string> ticket_ids, LogPosition after, LogPosition upto, int limit) = 0;
  // Where a client's resume token points now. A token from before the positions were rebased
  // (RebaseForeignLogPositions: a restore into another cluster) names a tx this cluster has not
  // reached, or a step that has been rebased since: it maps to that step's rebased place, after
  // which comes every step the client had not seen. Other tokens are returned as they are.
  [[nodiscard]] virtual absl::StatusOr<LogPosition> Resume(LogPosition token) = 0;
};

}  // namespace booking::storage
