#pragma once

#include <memory>

#include "app/event_pipeline.h"
#include "metrics/metrics.h"
#include "pipeline/batch_runner.h"
#include "pipeline/event_queue.h"
#include "pipeline/memory_event_log.h"
#include "pipeline/router.h"
#include "pipeline/worker_pool.h"

namespace booking::app {

// --event_log=memory: a bounded queue drained by worker threads that run the router. For
// development: events not yet handled are lost on exit, failed deliveries are dropped.
class MemoryPipeline final : public EventPipeline {
 public:
  // `first_sequence`: after every event already stored, so rows written before a restart are not
  // mistaken for newer. Starts the workers.
  MemoryPipeline(const pipeline::Router& router, size_t queue_capacity,
                 pipeline::WorkerPoolOptions workers, int64_t first_sequence,
                 metrics::Metrics& metrics);

  bool durable() const override { return false; }
  pipeline::EventLog& log() override { return *log_; }
  void Stop(absl::Time deadline, const std::function<void()>& hurry) override;

 private:
  pipeline::EventQueue queue_;
  pipeline::BatchRunner runner_;
  pipeline::WorkerPool workers_;
  std::unique_ptr<pipeline::MemoryEventLog> log_;
};

}  // namespace booking::app
