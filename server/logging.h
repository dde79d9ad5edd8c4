#pragma once

#include <string>

#include "absl/status/status.h"

namespace booking::server {

// Sets up the default spdlog logger: one line per event, UTC timestamps, `key=value` fields.
// INVALID_ARGUMENT for an unknown level name.
absl::Status InitLogging(const std::string& level);

}  // namespace booking::server
