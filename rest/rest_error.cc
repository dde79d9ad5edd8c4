#include "rest/rest_error.h"

#include <google/protobuf/util/json_util.h>

#include <cmath>

#include "absl/strings/str_join.h"
#include "api/error_details.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace booking::rest {

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

GatewayResponse RestError(const grpc::Status& given) {
  // The gateway's own refusals (a body that is not JSON, ...) get their BadRequest here.
  const grpc::Status status =
      given.error_code() == grpc::StatusCode::INVALID_ARGUMENT && given.error_details().empty()
          ? api::ToGrpcStatus(absl::InvalidArgumentError(given.error_message()))
          : given;
  GatewayResponse response;
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
}  // namespace booking::rest
