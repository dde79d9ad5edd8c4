#pragma once

#include <vector>

#include "metrics/metrics.h"
#include "workers/delivery_policy.h"
#include "workers/delivery_recorder.h"
#include "workers/event.h"
#include "workers/router.h"

namespace booking::workers {

// What a worker does with a batch: runs the handlers through the router, logs every failure
// with its correlation id, and, when deliveries are tracked (a recorder is given), decides each
// outcome by the policy and hands it to the recorder.
class DeliveryRunner {
 public:
  DeliveryRunner(const Router& router, const DeliveryPolicy& policy, DeliveryRecorder* recorder,
                 metrics::Metrics* metrics = nullptr)
      : router_(router), policy_(policy), recorder_(recorder), metrics_(metrics) {}

  void Run(std::vector<Event>& batch) const;

  // Gives the deliveries of events that were queued but never run back to the log (shutdown),
  // so another instance, or the next start, takes them at once instead of after the lease.
  void Release(const std::vector<Event>& events) const;

 private:
  const Router& router_;
  const DeliveryPolicy& policy_;
  DeliveryRecorder* const recorder_;  // null: the in-memory log, nothing to record
  metrics::Metrics* const metrics_;   // may be null
};

}  // namespace booking::workers
