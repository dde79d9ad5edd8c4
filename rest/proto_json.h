#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include <string>

#include "absl/status/statusor.h"

namespace booking::rest {

// protobuf's JSON printer with its status kept: it fails on what it cannot print (a string field
// that is not UTF-8), and a REST answer must then be an error, not an empty or cut body.
[[nodiscard]] inline absl::StatusOr<std::string> ToJson(
    const google::protobuf::Message& message,
    const google::protobuf::util::JsonPrintOptions& options = {}) {
  std::string json;
  if (const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
      !status.ok()) {
    return absl::InternalError(std::string("cannot print ") + message.GetTypeName() +
                               " as JSON: " + std::string(status.message()));
  }
  return json;
}

}  // namespace booking::rest
