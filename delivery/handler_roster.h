#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "storage/handler_registry.h"

namespace booking::delivery {

// The handlers this instance is configured with, against those registered in the shared
// database. Instances with different configurations may share one (--role=api/worker), so
// "configured" is this instance's view only: a handler registered but configured here may run
// elsewhere, and only the operator can tell that one is gone for good (RetireHandler).
class HandlerRoster {
 public:
  HandlerRoster(storage::HandlerRegistry& registry, std::vector<std::string> configured);

  // Start-up: runs `register_configured` (HandlerLog::Register for each configured handler, which
  // un-retires a retired one) and says what it finds: a line per handler it un-retired, and a
  // warning per handler registered but neither configured here nor retired, since that one
  // holds back pruning and COMPLETED waits until some instance runs it or it is retired.
  [[nodiscard]] absl::Status Register(absl::FunctionRef<absl::Status()> register_configured);

  const std::vector<std::string>& configured() const { return configured_; }
  bool IsConfigured(std::string_view handler) const;

  // The registered handlers not configured here (for GetHandlerStatus), read from the database
  // at most every `max_age`; on a failed read, the last ones read.
  std::vector<storage::RegisteredHandler> Unconfigured(
      absl::Duration max_age = absl::Seconds(5)) const;

 private:
  storage::HandlerRegistry& registry_;
  const std::vector<std::string> configured_;
  mutable common::Mutex mu_;  // held while reading: concurrent askers share one read
  mutable std::vector<storage::RegisteredHandler> unconfigured_ ABSL_GUARDED_BY(mu_);
  mutable absl::Time read_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace booking::delivery
