#include "workers/delivery_policy.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace booking::workers {

bool IsRetryable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsAborted(status) || absl::IsResourceExhausted(status);
}

absl::Duration DeliveryPolicy::Backoff(int attempt) const {
  const double doublings = std::min(attempt - 1, 30);
  const absl::Duration exponential =
      std::min(options_.max_delay, options_.first_delay * std::pow(2.0, doublings));
  thread_local absl::BitGen random;
  return exponential * absl::Uniform(random, 0.5, 1.0);
}

storage::DeliveryOutcome DeliveryPolicy::Decide(const Delivery& delivery, int attempts_before,
                                                absl::Time now) const {
  storage::DeliveryOutcome outcome;
  outcome.sequence = delivery.event->sequence;
  outcome.handler = std::string(delivery.handler);
  if (delivery.status.ok()) return outcome;
  const int attempts = attempts_before + 1;
  const std::string error = delivery.status.ToString();
  if (!IsRetryable(delivery.status)) {
    outcome.kind = storage::DeliveryOutcome::Kind::kDeadLetter;
    outcome.error = absl::StrCat("not retryable after attempt ", attempts, ": ", error);
  } else if (attempts >= options_.max_attempts) {
    outcome.kind = storage::DeliveryOutcome::Kind::kDeadLetter;
    outcome.error = absl::StrCat("gave up after ", attempts, " attempts: ", error);
  } else {
    outcome.kind = storage::DeliveryOutcome::Kind::kRetry;
    outcome.retry_at = now + Backoff(attempts);
    outcome.error = error;
  }
  return outcome;
}

}  // namespace booking::workers
