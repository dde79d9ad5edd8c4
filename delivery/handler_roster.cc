#include "delivery/handler_roster.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "common/log_value.h"
#include "spdlog/spdlog.h"

namespace booking::delivery {

HandlerRoster::HandlerRoster(storage::HandlerRegistry& registry,
                             std::vector<std::string> configured)
    : registry_(registry), configured_(std::move(configured)) {}

bool HandlerRoster::IsConfigured(std::string_view handler) const {
  return std::find(configured_.begin(), configured_.end(), handler) != configured_.end();
}

absl::Status HandlerRoster::Register(absl::FunctionRef<absl::Status()> register_configured) {
  // Read before registering: registering clears retired_at.
  absl::StatusOr<std::vector<storage::RegisteredHandler>> before = registry_.List();
  if (!before.ok()) return before.status();
  if (absl::Status status = register_configured(); !status.ok()) return status;
  for (const storage::RegisteredHandler& handler : *before) {
    if (IsConfigured(handler.handler)) {
      if (handler.retired_at.has_value()) {
        spdlog::warn(
            "retired handler configured here again: un-retired, it goes on from its "
            "checkpoints and events pruned while it was retired are gone for it handler={} "
            "retired_at={}",
            common::LogValue(handler.handler), absl::FormatTime(*handler.retired_at));
      }
    } else if (!handler.retired_at.has_value()) {
      spdlog::warn(
          "handler registered but not configured here holds back pruning and COMPLETED; retire "
          "it with AdminService.RetireHandler (POST /v1/admin/handlers/{}:retire) once no "
          "instance runs it handler={} event_type={}",
          handler.handler, common::LogValue(handler.handler), common::LogValue(handler.event_type));
    }
  }
  return absl::OkStatus();
}

std::vector<storage::RegisteredHandler> HandlerRoster::Unconfigured(absl::Duration max_age) const {
  common::MutexLock lock(mu_);
  const absl::Time now = absl::Now();
  if (now - read_at_ >= max_age) {
    absl::StatusOr<std::vector<storage::RegisteredHandler>> registered = registry_.List();
    if (registered.ok()) {
      unconfigured_.clear();
      for (storage::RegisteredHandler& handler : *registered) {
        if (!IsConfigured(handler.handler)) unconfigured_.push_back(std::move(handler));
      }
      read_at_ = now;
    }
  }
  return unconfigured_;
}

}  // namespace booking::delivery
