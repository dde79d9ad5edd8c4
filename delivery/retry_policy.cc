#include "delivery/retry_policy.h"

#include <algorithm>
#include <cmath>

#include "absl/random/random.h"

namespace booking::delivery {

absl::Duration Backoff(const RetryOptions& options, int failures) {
  const double doublings = std::clamp(failures - 1, 0, 30);
  const absl::Duration exponential =
      std::min(options.max_delay, options.first_delay * std::pow(2.0, doublings));
  thread_local absl::BitGen random;
  return exponential * absl::Uniform(random, 0.5, 1.0);
}

}  // namespace booking::delivery
