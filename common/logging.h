#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/log_value.h"  // LogValue, for the fields of every line

namespace booking::common {

// Sets up the default spdlog logger on stderr: one line per event, UTC timestamps. `format`
// "json": one JSON object per line (JsonLogFormatter); "text": `time level [thread] message
// key=value ...`. INVALID_ARGUMENT naming the flag for an unknown level or format.
absl::Status InitLogging(const std::string& level, const std::string& format = "text");

}  // namespace booking::common
