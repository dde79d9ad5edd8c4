#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace booking::server {

// Sets up the default spdlog logger on stderr: one line per event, UTC timestamps. `format`
// "json": one JSON object per line (JsonLogFormatter); "text": `time level [thread] message
// key=value ...`. INVALID_ARGUMENT naming the flag for an unknown level or format.
absl::Status InitLogging(const std::string& level, const std::string& format = "text");

// A value from outside (a path, a header) fit for a `key=value` log field: as it is when it
// holds only characters that cannot end or forge a field, otherwise quoted with `"`, `\` and
// control bytes escaped, so `x status=200` stays one value.
std::string LogValue(std::string_view value);

}  // namespace booking::server
