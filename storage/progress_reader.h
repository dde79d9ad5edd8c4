#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace booking::storage {

// Where one handler is with one event.
struct HandlerState {
  enum class State { kPending, kFinished, kDeadLettered };
  std::string idempotency_key;  // the event's (the call's key + "/" + ticket id)
  std::string ticket_id;
  std::string handler;
  State state = State::kPending;
};

// How far the handlers are with given events, for callers that wait for their writes to be
// handled. Reads the shared log, so it sees the work of every instance.
class ProgressReader {
 public:
  virtual ~ProgressReader() = default;
  // One row per (event, handler of its type) for the events with these idempotency keys (an
  // event's key is its call's key + "/" + its ticket id: a key not of that form finds nothing);
  // events not in the log, and retired handlers, are left out.
  [[nodiscard]] virtual absl::StatusOr<std::vector<HandlerState>> Read(
      absl::Span<const std::string> idempotency_keys) = 0;
};

}  // namespace booking::storage
