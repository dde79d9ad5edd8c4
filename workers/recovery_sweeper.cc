#include "workers/recovery_sweeper.h"

#include <pthread.h>

#include "spdlog/spdlog.h"
#include "workers/event_conversion.h"

namespace booking::workers {

RecoverySweeper::RecoverySweeper(storage::EventStore& store, EventQueue& queue,
                                 RecoverySweeperOptions options)
    : store_(store), queue_(queue), options_(std::move(options)) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sweeper");
    Run();
  });
}

RecoverySweeper::~RecoverySweeper() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

absl::StatusOr<int> RecoverySweeper::SweepOnce() {
  const size_t free = queue_.capacity() - std::min(queue_.capacity(), queue_.size());
  const int limit = static_cast<int>(std::min<size_t>(free, options_.max_claim));
  if (limit <= 0) return 0;
  // Take the room first, so what is claimed always fits.
  if (!queue_.TryReserve(static_cast<size_t>(limit))) return 0;
  absl::StatusOr<std::vector<storage::DeliveryRecord>> claimed =
      store_.ClaimDue(options_.owner, options_.lease, limit);
  if (!claimed.ok()) {
    queue_.Unreserve(static_cast<size_t>(limit));
    return claimed.status();
  }
  std::vector<Event> events;
  events.reserve(claimed->size());
  for (storage::DeliveryRecord& delivery : *claimed) {
    events.push_back(EventFromDelivery(std::move(delivery)));
  }
  queue_.Unreserve(static_cast<size_t>(limit) - events.size());
  const int count = static_cast<int>(events.size());
  queue_.PushReserved(events);
  queued_ += count;
  return count;
}

void RecoverySweeper::Run() {
  while (true) {
    absl::StatusOr<int> swept = SweepOnce();
    if (!swept.ok()) {
      spdlog::warn("recovery sweep failed error=\"{}\"", swept.status().ToString());
    } else if (*swept > 0) {
      spdlog::info("recovery sweep queued deliveries count={}", *swept);
    }
    std::unique_lock lock(mu_);
    // A full sweep suggests more is due: go again at once.
    const bool more = swept.ok() && *swept == options_.max_claim;
    if (!more) {
      wake_.wait_for(lock, absl::ToChronoNanoseconds(options_.interval),
                     [this] { return stopping_; });
    }
    if (stopping_) return;
  }
}

}  // namespace booking::workers
