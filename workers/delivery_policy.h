#pragma once

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "storage/event_store.h"
#include "workers/router.h"

namespace booking::workers {

struct RetryOptions {
  int max_attempts = 8;  // attempts in all, the first included
  absl::Duration first_delay = absl::Milliseconds(200);
  absl::Duration max_delay = absl::Seconds(60);
};

// True for the codes a later attempt can fix: UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED,
// RESOURCE_EXHAUSTED.
bool IsRetryable(const absl::Status& status);

// Decides what becomes of an attempt: done, retried later with exponential backoff and jitter, or
// a dead letter (after the last attempt, or at once when no retry can help). Thread-safe.
class DeliveryPolicy {
 public:
  explicit DeliveryPolicy(RetryOptions options) : options_(options) {}

  // `attempts_before` is how many attempts the delivery had before this one.
  storage::DeliveryOutcome Decide(const Delivery& delivery, int attempts_before,
                                  absl::Time now) const;

  // Delay before attempt number `attempt` + 1 (attempt >= 1): first_delay doubled per attempt,
  // capped at max_delay, then scaled by a random factor in [0.5, 1) so retries spread out.
  absl::Duration Backoff(int attempt) const;

  const RetryOptions& options() const { return options_; }

 private:
  const RetryOptions options_;
};

}  // namespace booking::workers
