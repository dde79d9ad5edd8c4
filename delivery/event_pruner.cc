#include "delivery/event_pruner.h"

#include <pthread.h>

#include "common/log_value.h"
#include "spdlog/spdlog.h"

namespace booking::workers {

EventPruner::EventPruner(storage::EventStore& store, EventPrunerOptions options)
    : store_(store), options_(options) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "pruner");
    Run();
  });
}

EventPruner::~EventPruner() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

absl::StatusOr<long long> EventPruner::PruneOnce() {
  long long total = 0;
  for (int i = 0; i < options_.max_batches; ++i) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    absl::StatusOr<int> deleted = store_.PruneFinished(options_.retention, options_.batch);
    if (!deleted.ok()) return deleted.status();
    total += *deleted;
    if (*deleted < options_.batch) break;
  }
  return total;
}

void EventPruner::Run() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, absl::ToChronoNanoseconds(options_.interval),
                     [this] { return stopping_; });
      if (stopping_) return;
    }
    absl::StatusOr<long long> pruned = PruneOnce();
    if (!pruned.ok()) {
      spdlog::warn("event pruning failed error={}", LogValue(pruned.status().ToString()));
    } else if (*pruned > 0) {
      spdlog::info("finished events pruned count={}", *pruned);
    }
  }
}

}  // namespace booking::workers
