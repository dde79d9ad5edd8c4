#pragma once

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "domain/handler.h"  // IsRetryable

namespace booking::delivery {

struct RetryOptions {
  absl::Duration first_delay = absl::Milliseconds(200);
  absl::Duration max_delay = absl::Seconds(60);
  // How long a failing event is retried before it becomes a dead letter: an outage of this
  // length heals by itself.
  absl::Duration retry_for = absl::Hours(24);
  // Consecutive failed calls after which a handler's breaker opens: it then sends one probe per
  // backoff instead of a whole batch, until a probe succeeds.
  int breaker_failures = 3;
};

// Delay before the next try after `failures` consecutive failed rounds (>= 1): first_delay
// doubled per round, capped at max_delay, scaled by a random factor in [0.5, 1) so that
// instances and handlers do not retry in step.
absl::Duration Backoff(const RetryOptions& options, int failures);

// A circuit breaker for one handler: closed while calls succeed; open after
// `breaker_failures` consecutive failures, when the handler waits out its backoff and then
// sends a single probe (half-open); a successful probe closes it. Not thread-safe: one lane owns
// it.
class CircuitBreaker {
 public:
  enum class State { kClosed = 0, kOpen = 1, kHalfOpen = 2 };

  explicit CircuitBreaker(int failures_to_open) : failures_to_open_(failures_to_open) {}

  // How many events the next round may try: all of them when closed, one probe otherwise.
  bool probing() const { return state_ != State::kClosed; }
  void OnSuccess() {
    failures_ = 0;
    state_ = State::kClosed;
  }
  void OnFailures(int n) {
    failures_ += n;
    if (failures_ >= failures_to_open_) state_ = State::kOpen;
  }
  void OnProbe() {  // the backoff is over; the next round is the probe
    if (state_ == State::kOpen) state_ = State::kHalfOpen;
  }
  State state() const { return state_; }

 private:
  const int failures_to_open_;
  int failures_ = 0;
  State state_ = State::kClosed;
};

}  // namespace booking::delivery
