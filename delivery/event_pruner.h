#pragma once

#include <atomic>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/periodic_task.h"
#include "storage/event_store.h"

namespace booking::delivery {

struct EventPrunerOptions {
  // Finished events are kept this long: it is also how long an idempotency key is remembered.
  absl::Duration retention = absl::Hours(24 * 7);
  absl::Duration interval = absl::Minutes(1);
  int batch = 10000;      // events deleted per statement (a short transaction each)
  int max_batches = 100;  // per round, so one round is bounded however large the backlog
};

// Keeps the events table from growing for ever: every `interval` deletes events older than
// `retention` whose deliveries are all done, in short batches. Several instances may run it at
// once; they only share the work. A PeriodicTask of its own.
class EventPruner {
 public:
  EventPruner(storage::EventStore& store, EventPrunerOptions options);
  ~EventPruner();
  EventPruner(const EventPruner&) = delete;
  EventPruner& operator=(const EventPruner&) = delete;

  // One round: batches until one deletes less than a full batch (or max_batches), then a sweep
  // of redeliveries whose event is gone. Returns how many events it deleted.
  [[nodiscard]] absl::StatusOr<long long> PruneOnce();

 private:
  void Round();  // on the task's thread

  storage::EventStore& store_;
  const EventPrunerOptions options_;
  std::atomic<bool> stopping_{false};  // ends a round between batches
  common::PeriodicTask task_;          // last: stopped first, before what it uses goes
};

}  // namespace booking::delivery
