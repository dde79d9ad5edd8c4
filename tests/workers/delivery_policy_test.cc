#include "workers/delivery_policy.h"

#include <set>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace booking::workers {
namespace {

using Kind = storage::DeliveryOutcome::Kind;

Delivery Attempt(const Event& event, absl::Status status) { return {&event, "H", status}; }

TEST(DeliveryPolicyTest, SuccessIsDone) {
  DeliveryPolicy policy({});
  Event event;
  event.sequence = 7;
  storage::DeliveryOutcome outcome =
      policy.Decide(Attempt(event, absl::OkStatus()), 0, absl::Now());
  EXPECT_EQ(outcome.kind, Kind::kDone);
  EXPECT_EQ(outcome.sequence, 7);
  EXPECT_EQ(outcome.handler, "H");
}

TEST(DeliveryPolicyTest, RetryableFailureIsRetriedWithBackoffUntilTheLastAttempt) {
  DeliveryPolicy policy(
      {.max_attempts = 3, .first_delay = absl::Seconds(1), .max_delay = absl::Seconds(60)});
  Event event;
  const absl::Time now = absl::FromUnixSeconds(1000);
  for (absl::Status status :
       {absl::UnavailableError("down"), absl::DeadlineExceededError("slow"),
        absl::AbortedError("conflict"), absl::ResourceExhaustedError("full")}) {
    storage::DeliveryOutcome first = policy.Decide(Attempt(event, status), 0, now);
    EXPECT_EQ(first.kind, Kind::kRetry) << status;
    EXPECT_GE(first.retry_at - now, absl::Milliseconds(500));
    EXPECT_LT(first.retry_at - now, absl::Seconds(1));
    EXPECT_EQ(policy.Decide(Attempt(event, status), 1, now).kind, Kind::kRetry);
    storage::DeliveryOutcome last = policy.Decide(Attempt(event, status), 2, now);
    EXPECT_EQ(last.kind, Kind::kDeadLetter);
    EXPECT_NE(last.error.find("gave up after 3 attempts"), std::string::npos) << last.error;
  }
}

TEST(DeliveryPolicyTest, NonRetryableFailureIsADeadLetterAtOnce) {
  DeliveryPolicy policy({.max_attempts = 5});
  Event event;
  for (absl::Status status : {absl::InvalidArgumentError("bad"), absl::NotFoundError("no route"),
                              absl::InternalError("bug"), absl::FailedPreconditionError("418")}) {
    storage::DeliveryOutcome outcome = policy.Decide(Attempt(event, status), 0, absl::Now());
    EXPECT_EQ(outcome.kind, Kind::kDeadLetter) << status;
    EXPECT_NE(outcome.error.find("not retryable"), std::string::npos);
  }
}

TEST(DeliveryPolicyTest, BackoffDoublesWithJitterAndIsCapped) {
  DeliveryPolicy policy({.first_delay = absl::Milliseconds(100), .max_delay = absl::Seconds(1)});
  for (int i = 0; i < 100; ++i) {
    const absl::Duration first = policy.Backoff(1);
    EXPECT_GE(first, absl::Milliseconds(50));
    EXPECT_LT(first, absl::Milliseconds(100));
    const absl::Duration third = policy.Backoff(3);
    EXPECT_GE(third, absl::Milliseconds(200));
    EXPECT_LT(third, absl::Milliseconds(400));
    const absl::Duration late = policy.Backoff(40);
    EXPECT_GE(late, absl::Milliseconds(500));
    EXPECT_LT(late, absl::Seconds(1));
  }
  // Jitter: not every delay is the same.
  std::set<int64_t> distinct;
  for (int i = 0; i < 20; ++i) distinct.insert(absl::ToInt64Microseconds(policy.Backoff(2)));
  EXPECT_GT(distinct.size(), 1u);
}

}  // namespace
}  // namespace booking::workers
