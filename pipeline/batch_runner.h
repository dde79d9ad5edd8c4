#pragma once

#include <vector>

#include "domain/event.h"
#include "metrics/metrics.h"
#include "pipeline/router.h"

namespace booking::pipeline {

// What a worker of the in-memory log does with a batch: runs the handlers through the router
// and logs every failure with its correlation id. The in-memory log keeps no retries: a failed
// result is dropped (counted as such). The durable log's handlers run in HandlerLanes instead.
class BatchRunner {
 public:
  explicit BatchRunner(const Router& router, metrics::Metrics* metrics = nullptr)
      : router_(router), metrics_(metrics) {}

  void Run(std::vector<domain::Event>& batch) const;

 private:
  const Router& router_;
  metrics::Metrics* const metrics_;  // may be null
};

}  // namespace booking::pipeline
