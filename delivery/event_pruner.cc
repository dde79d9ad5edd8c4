#include "delivery/event_pruner.h"

#include "common/log_value.h"
#include "spdlog/spdlog.h"

namespace booking::delivery {

EventPruner::EventPruner(storage::EventStore& store, EventPrunerOptions options)
    : store_(store), options_(options), task_("pruner", options.interval, [this] { Round(); }) {
  task_.Start();
}

EventPruner::~EventPruner() {
  stopping_.store(true);
  task_.Stop();
}

absl::StatusOr<long long> EventPruner::PruneOnce() {
  long long total = 0;
  for (int i = 0; i < options_.max_batches && !stopping_.load(); ++i) {
    absl::StatusOr<int> deleted = store_.PruneFinished(options_.retention, options_.batch);
    if (!deleted.ok()) return deleted.status();
    total += *deleted;
    if (*deleted < options_.batch) break;
  }
  absl::StatusOr<int> orphans = store_.SweepOrphans();
  if (!orphans.ok()) return orphans.status();
  if (*orphans > 0) {
    // Should not happen any more (a replay and the pruner lock each other out): worth a look.
    spdlog::warn("redeliveries whose event was gone deleted count={}", *orphans);
  }
  return total;
}

void EventPruner::Round() {
  absl::StatusOr<long long> pruned = PruneOnce();
  if (!pruned.ok()) {
    spdlog::warn("event pruning failed error={}", common::LogValue(pruned.status().ToString()));
  } else if (*pruned > 0) {
    spdlog::info("finished events pruned count={}", *pruned);
  }
}

}  // namespace booking::delivery
