#pragma once

#include <memory>

#include "spdlog/formatter.h"

namespace booking::common {

// Writes each log record as one JSON object per line, for log shippers:
//   {"time":"2026-11-24T21:00:00.123456Z","level":"info","thread":42,"message":"call",
//    "protocol":"grpc","code":"OK","correlation_id":"..."}
// The code logs `message key=value key="quoted value"`; the words before the first key=value
// become "message" and each pair its own field, so correlation_id, event_id and handler are
// fields wherever a line carries them. Values stay strings.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace booking::common
