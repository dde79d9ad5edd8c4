#include "app/memory_pipeline.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace booking::app {

MemoryPipeline::MemoryPipeline(const pipeline::Router& router, size_t queue_capacity,
                               pipeline::WorkerPoolOptions workers, int64_t first_sequence,
                               metrics::Metrics& metrics)
    : queue_(queue_capacity),
      runner_(router, &metrics),
      workers_(
          queue_, [this](std::vector<domain::Event>& batch) { runner_.Run(batch); }, workers) {
  metrics.AddGauge("booking_queue_depth", "Events in the in-memory queue (or reserved for it).",
                   [this] { return static_cast<double>(queue_.size()); });
  metrics.AddGauge("booking_queue_capacity", "Events the in-memory queue holds at most.",
                   [this] { return static_cast<double>(queue_.capacity()); });
  workers_.Start();
  log_ = std::make_unique<pipeline::MemoryEventLog>(
      queue_,
      pipeline::MemoryEventLogOptions{.first_sequence = first_sequence, .metrics = &metrics});
}

void MemoryPipeline::Stop(absl::Time deadline, const std::function<void()>& hurry) {
  log_.reset();
  const size_t left = workers_.Stop(std::max(deadline - absl::Now(), absl::ZeroDuration()), hurry);
  if (left > 0) {
    spdlog::warn("stopped with events unhandled count={} (the in-memory log does not keep them)",
                 left);
  }
}

}  // namespace booking::app
