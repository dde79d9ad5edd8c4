#include "rest/rest_error.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/error_details.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "rest/proto_json.h"

namespace booking::rest {

int HttpStatusForGrpcCode(int code) {
  switch (code) {
    case 0:  // OK
      return 200;
    case 1:  // CANCELLED
      return 499;
    case 3:   // INVALID_ARGUMENT
    case 9:   // FAILED_PRECONDITION
    case 11:  // OUT_OF_RANGE
      return 400;
    case 4:  // DEADLINE_EXCEEDED
      return 504;
    case 5:  // NOT_FOUND
      return 404;
    case 6:   // ALREADY_EXISTS
    case 10:  // ABORTED
      return 409;
    case 7:  // PERMISSION_DENIED
      return 403;
    case 8:  // RESOURCE_EXHAUSTED
      return 429;
    case 12:  // UNIMPLEMENTED
      return 501;
    case 14:  // UNAVAILABLE
      return 503;
    case 16:  // UNAUTHENTICATED
      return 401;
    default:  // UNKNOWN, INTERNAL, DATA_LOSS
      return 500;
  }
}

std::string ErrorJson(int grpc_code, const std::string& message, const std::string& details_json) {
  // Fields in a fixed order; the message escaped by protobuf's JSON printer.
  google::protobuf::Value text;
  text.set_string_value(message);
  // A message that is not UTF-8 cannot be printed: say so rather than send invalid JSON.
  const std::string quoted = ToJson(text).value_or("\"(message not printable as JSON)\"");
  return absl::StrCat("{\"code\":", grpc_code, ",\"message\":", quoted,
                      ",\"details\":", details_json, "}");
}

std::string DetailsJson(const std::string& status_details) {
  google::rpc::Status proto;
  if (status_details.empty() || !proto.ParseFromString(status_details)) return "[]";
  std::vector<std::string> parts;
  for (const google::protobuf::Any& detail : proto.details()) {
    std::string json;
    // Default options: lowerCamelCase names ("fieldViolations"), as grpc-gateway prints them.
    if (google::protobuf::util::MessageToJsonString(detail, &json).ok()) {
      parts.push_back(std::move(json));
    }
  }
  return "[" + absl::StrJoin(parts, ",") + "]";
}

int HttpStatusFor(const grpc::Status& status) {
  google::rpc::Status proto;
  if (!status.error_details().empty() && proto.ParseFromString(status.error_details())) {
    for (const google::protobuf::Any& detail : proto.details()) {
      google::rpc::PreconditionFailure failure;
      if (!detail.Is<google::rpc::PreconditionFailure>() || !detail.UnpackTo(&failure)) continue;
      for (const auto& violation : failure.violations()) {
        if (violation.type() == api::kKeyReusedType) return 422;
        if (violation.type() == api::kTicketNotConfirmedType) return 409;
      }
    }
  }
  return HttpStatusForGrpcCode(status.error_code());
}

http::Response RestError(const grpc::Status& given) {
  // The gateway's own refusals (a body that is not JSON, ...) get their BadRequest here.
  const grpc::Status status =
      given.error_code() == grpc::StatusCode::INVALID_ARGUMENT && given.error_details().empty()
          ? api::ToGrpcStatus(absl::InvalidArgumentError(given.error_message()))
          : given;
  http::Response response;
  response.status = HttpStatusFor(status);
  response.body =
      ErrorJson(status.error_code(), status.error_message(), DetailsJson(status.error_details()));
  if (std::optional<int64_t> seconds = RetryAfterSeconds(status.error_details())) {
    response.headers.emplace_back("Retry-After", std::to_string(*seconds));
  }
  return response;
}

std::optional<int64_t> RetryAfterSeconds(const std::string& status_details) {
  google::rpc::Status proto;
  if (status_details.empty() || !proto.ParseFromString(status_details)) return std::nullopt;
  for (const google::protobuf::Any& detail : proto.details()) {
    google::rpc::RetryInfo retry;
    if (!detail.Is<google::rpc::RetryInfo>() || !detail.UnpackTo(&retry)) continue;
    const double seconds =
        static_cast<double>(retry.retry_delay().seconds()) + retry.retry_delay().nanos() / 1e9;
    return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(seconds)));
  }
  return std::nullopt;
}
std::string RefusalJson(int http_status, std::string_view message) {
  const grpc::StatusCode code = http_status == 413   ? grpc::StatusCode::RESOURCE_EXHAUSTED
                                : http_status == 503 ? grpc::StatusCode::UNAVAILABLE
                                                     : grpc::StatusCode::INVALID_ARGUMENT;
  return RestError(grpc::Status(code, std::string(message))).body;
}

}  // namespace booking::rest
