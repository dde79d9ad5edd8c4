#include "common/logging.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/json_log_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace booking::common {

absl::Status InitLogging(const std::string& level, const std::string& format) {
  if (format != "json" && format != "text") {
    return absl::InvalidArgumentError(
        absl::StrCat("log_format: must be json or text, got \"", format, "\""));
  }
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("log_level: must be trace, debug, info, warn, error, critical or off, got \"",
                     level, "\""));
  }
  auto logger = spdlog::stderr_logger_mt("booking");
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonLogFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l [%t] %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return absl::OkStatus();
}

}  // namespace booking::common
