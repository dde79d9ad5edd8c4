#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "metrics/metrics.h"
#include "pipeline/event_log.h"
#include "pipeline/event_queue.h"

namespace booking::pipeline {

struct MemoryEventLogOptions {
  // First sequence number to give out; start above anything already applied to storage.
  int64_t first_sequence = 1;
  // How long an idempotency key is remembered, and how many at most (oldest forgotten first).
  absl::Duration idempotency_ttl = absl::Hours(24);
  size_t max_idempotency_keys = 1'000'000;
  metrics::Metrics* metrics = nullptr;  // events published
};

// For development and tests: events live only in the queue, so a crash loses what the workers
// have not handled yet. Idempotency keys are remembered in memory, bounded by the options.
// Answers on the caller's thread without blocking on I/O.
class MemoryEventLog final : public EventLog {
 public:
  MemoryEventLog(EventQueue& queue, MemoryEventLogOptions options);

  using EventLog::Append;
  void Append(CallIdentity call, std::vector<domain::Event> events, AppendCallback done) override;

 private:
  [[nodiscard]] absl::StatusOr<AppendResult> Publish(CallIdentity call,
                                                     std::vector<domain::Event> events);
  void ForgetExpired(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  EventQueue& queue_;
  const MemoryEventLogOptions options_;
  common::Mutex mu_;
  int64_t next_sequence_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> keys_ ABSL_GUARDED_BY(mu_);  // of events
  std::deque<std::pair<absl::Time, std::string>> key_order_ ABSL_GUARDED_BY(mu_);
  struct KnownCall {
    std::string fingerprint;
    int published = 0;
  };
  absl::flat_hash_map<std::string, KnownCall> calls_ ABSL_GUARDED_BY(mu_);  // by call key
  std::deque<std::pair<absl::Time, std::string>> call_order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace booking::pipeline
