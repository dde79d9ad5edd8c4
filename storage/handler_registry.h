#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace booking::storage {

// A handler as the shared database knows it (HandlerLog::Register records it).
struct RegisteredHandler {
  std::string handler;
  std::string event_type;
  absl::Time registered_at;
  std::optional<absl::Time> retired_at;  // set: retired
};

// The handlers registered by any instance sharing the database, and their retirement: a handler
// no instance runs any more, retired by an operator, counts for neither pruning, COMPLETED waits
// nor the backlog. Registering it again (HandlerLog::Register) un-retires it. Thread-safe.
class HandlerRegistry {
 public:
  virtual ~HandlerRegistry() = default;

  // Every registered handler, by name.
  [[nodiscard]] virtual absl::StatusOr<std::vector<RegisteredHandler>> List() = 0;

  // Retires the handler; retiring a retired one changes nothing (it keeps its first
  // retired_at). NOT_FOUND: no handler of that name is registered.
  [[nodiscard]] virtual absl::StatusOr<RegisteredHandler> Retire(const std::string& handler) = 0;
};

}  // namespace booking::storage
