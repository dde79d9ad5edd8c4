#pragma once

#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "workers/event.h"

namespace booking::workers {

struct AppendResult {
  // Events made durable and published by this append; events whose idempotency key was already
  // accepted are skipped and not counted.
  int published = 0;
};

// Where the service hands accepted events. An implementation makes them durable, gives them
// their publish order (Event::sequence) and passes them on to the workers.
class EventLog {
 public:
  using AppendCallback = absl::AnyInvocable<void(absl::StatusOr<AppendResult>) &&>;

  virtual ~EventLog() = default;

  // Appends the events of one call, all or nothing, and runs `done` exactly once: OK only after
  // they are durable; UNAVAILABLE when the log could not store them; RESOURCE_EXHAUSTED when it
  // is saturated. `done` may run on the caller's thread or on the log's own; it must not block.
  virtual void Append(std::vector<Event> events, AppendCallback done) = 0;
};

}  // namespace booking::workers
