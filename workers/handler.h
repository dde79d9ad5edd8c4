#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "workers/event.h"

namespace booking::workers {

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
};

}  // namespace booking::workers
