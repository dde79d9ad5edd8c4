#include "server/error_details.h"

#include <google/protobuf/util/json_util.h>

#include <cmath>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "server/http_types.h"

namespace booking::server {
namespace {

bool NeedsRetryInfo(absl::StatusCode code) {
  return code == absl::StatusCode::kResourceExhausted || code == absl::StatusCode::kUnavailable;
}

}  // namespace

absl::Status WithFieldViolations(absl::Status status,
                                 const std::vector<FieldViolation>& violations) {
  google::rpc::BadRequest bad_request;
  for (const FieldViolation& violation : violations) {
    auto* out = bad_request.add_field_violations();
    out->set_field(violation.field);
    out->set_description(violation.description);
  }
  status.SetPayload(kBadRequestType, absl::Cord(bad_request.SerializeAsString()));
  return status;
}

absl::Status IdempotencyKeyReused(std::string_view key) {
  const std::string description =
      absl::StrCat("idempotency_key: \"", std::string(key),
                   "\" was already used for a different request; use a new key for a new request");
  google::rpc::PreconditionFailure failure;
  auto* violation = failure.add_violations();
  violation->set_type(kKeyReusedType);
  violation->set_subject(std::string(key));
  violation->set_description(description);
  absl::Status status = absl::FailedPreconditionError(description);
  status.SetPayload(kPreconditionFailureType, absl::Cord(failure.SerializeAsString()));
  return status;
}

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  google::rpc::RetryInfo retry;
  const int64_t nanos = absl::ToInt64Nanoseconds(delay);
  retry.mutable_retry_delay()->set_seconds(nanos / 1'000'000'000);
  retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  status.SetPayload(kRetryInfoType, absl::Cord(retry.SerializeAsString()));
  return status;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  absl::Status rich = status;
  if (NeedsRetryInfo(rich.code()) && !rich.GetPayload(kRetryInfoType).has_value()) {
    rich = WithRetryDelay(std::move(rich), kDefaultRetryDelay);
  }
  google::rpc::Status proto;
  proto.set_code(static_cast<int>(rich.code()));
  proto.set_message(std::string(rich.message()));
  rich.ForEachPayload([&proto](absl::string_view type_url, const absl::Cord& value) {
    auto* detail = proto.add_details();
    detail->set_type_url(std::string(type_url));
    detail->set_value(std::string(value));
  });
  // absl and gRPC share the canonical codes.
  const auto code = static_cast<grpc::StatusCode>(rich.code());
  if (proto.details_size() == 0) return grpc::Status(code, std::string(rich.message()));
  return grpc::Status(code, std::string(rich.message()), proto.SerializeAsString());
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
        if (violation.type() == kKeyReusedType) return 422;
      }
    }
  }
  return HttpStatusForGrpcCode(status.error_code());
}

GatewayResponse RestError(const grpc::Status& status) {
  GatewayResponse response;
  response.status = HttpStatusFor(status);
  response.body = ErrorJson(status.error_code(), status.error_message(),
                            DetailsJson(status.error_details()));
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

}  // namespace booking::server
