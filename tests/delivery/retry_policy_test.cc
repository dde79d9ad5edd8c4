#include "delivery/retry_policy.h"

#include "gtest/gtest.h"

namespace booking::delivery {
namespace {

TEST(RetryPolicyTest, RetryableCodes) {
  EXPECT_TRUE(domain::IsRetryable(absl::UnavailableError("x")));
  EXPECT_TRUE(domain::IsRetryable(absl::DeadlineExceededError("x")));
  EXPECT_TRUE(domain::IsRetryable(absl::AbortedError("x")));
  EXPECT_TRUE(domain::IsRetryable(absl::ResourceExhaustedError("x")));
  EXPECT_FALSE(domain::IsRetryable(absl::InvalidArgumentError("x")));
  EXPECT_FALSE(domain::IsRetryable(absl::NotFoundError("x")));
}

TEST(RetryPolicyTest, BackoffDoublesWithJitterAndIsCapped) {
  const RetryOptions options{.first_delay = absl::Milliseconds(100), .max_delay = absl::Seconds(1)};
  for (int i = 0; i < 50; ++i) {
    const absl::Duration first = Backoff(options, 1);
    EXPECT_GE(first, absl::Milliseconds(50));
    EXPECT_LT(first, absl::Milliseconds(100));
    const absl::Duration third = Backoff(options, 3);
    EXPECT_GE(third, absl::Milliseconds(200));
    EXPECT_LT(third, absl::Milliseconds(400));
    EXPECT_LT(Backoff(options, 40), absl::Seconds(1));
    EXPECT_GE(Backoff(options, 40), absl::Milliseconds(500));
  }
}

TEST(RetryPolicyTest, BreakerOpensAfterConsecutiveFailuresAndClosesOnSuccess) {
  CircuitBreaker breaker(3);
  EXPECT_FALSE(breaker.probing());
  breaker.OnFailures(2);
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kClosed);
  breaker.OnFailures(1);
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kOpen);
  EXPECT_TRUE(breaker.probing());
  breaker.OnProbe();
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kHalfOpen);
  breaker.OnFailures(1);
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kOpen);
  breaker.OnSuccess();
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kClosed);
  breaker.OnFailures(2);
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kClosed) << "the count starts again";
}

}  // namespace
}  // namespace booking::delivery
