#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "domain/event.h"

namespace booking::domain {

// True for the codes a later attempt can fix: UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED,
// RESOURCE_EXHAUSTED. Part of a handler's contract: its status says whether to retry.
inline bool IsRetryable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsAborted(status) || absl::IsResourceExhausted(status);
}

// A retryable failure of the API as a whole rather than of this event: the connection was
// refused, or the API said it is overloaded or unavailable (429, 503). A handler's lane pauses
// for it (breaker, backoff, or what `retry_after` asks for: zero when the API did not say) and
// never parks an event because of it. An error the API gave this one request (a 500, a timeout
// while other calls succeed) carries no such mark: the lane then parks just that event.
inline constexpr char kApiFailurePayload[] = "booking/api-failure";
inline absl::Status ApiFailure(absl::Status status,
                               absl::Duration retry_after = absl::ZeroDuration()) {
  status.SetPayload(kApiFailurePayload,
                    absl::Cord(std::to_string(absl::ToInt64Milliseconds(retry_after))));
  return status;
}
inline bool IsApiFailure(const absl::Status& status) {
  return status.GetPayload(kApiFailurePayload).has_value();
}
inline absl::Duration RetryAfter(const absl::Status& status) {
  const auto payload = status.GetPayload(kApiFailurePayload);
  int64_t millis = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &millis)) {
    return absl::ZeroDuration();
  }
  return absl::Milliseconds(millis);
}

// Does one kind of follow-up work for events of the types it is registered for.
class Handler {
 public:
  virtual ~Handler() = default;

  // Stable name, used in logs and delivery records ("StoreTickets").
  virtual std::string_view name() const = 0;

  // Handles a batch all or nothing: OK means every event is done. Must be idempotent, since an
  // event can be delivered more than once; a non-OK status says whether a retry can help
  // (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, RESOURCE_EXHAUSTED) or not. Thread-safe.
  virtual absl::Status Handle(absl::Span<const Event* const> events) = 0;

  // Handles the events one by one where the sink works that way (an external API: one call per
  // event, many in flight), writing each event's status into `results` (same size). The default
  // runs Handle once and gives its status to every event.
  virtual void HandleEach(absl::Span<const Event* const> events, absl::Span<absl::Status> results) {
    const absl::Status status = Handle(events);
    for (absl::Status& result : results) result = status;
  }

  // True when HandleEach's statuses are each event's own, so a failure points at its event;
  // false when a batch succeeds or fails as a whole, so a failed batch must be split to find the
  // event at fault.
  virtual bool reports_each() const { return false; }

  // For a handler that reports each: how many of its calls may be in flight at once (one chunk,
  // recorded together; a crash repeats at most that many). 0: the lane's own (--api_concurrency,
  // sized for HTTP APIs). A broker that acknowledges asynchronously takes thousands.
  virtual int calls_at_once() const { return 0; }
};

}  // namespace booking::domain
