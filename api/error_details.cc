#include "api/error_details.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace booking::api {
namespace {

bool NeedsRetryInfo(absl::StatusCode code) {
  return code == absl::StatusCode::kResourceExhausted || code == absl::StatusCode::kUnavailable;
}

// The field a message names: its text before ": ", when that is a field path; else "" (the
// request as a whole).
std::string FieldNamedBy(std::string_view message) {
  const size_t colon = message.find(": ");
  if (colon == std::string_view::npos || colon > 128) return "";
  const std::string_view field = message.substr(0, colon);
  return IsFieldPath(field) ? std::string(field) : "";
}

absl::Status WithDerivedViolation(absl::Status status) {
  const std::string message(status.message());
  std::string field = FieldNamedBy(message);
  std::string description(field.empty() ? message : message.substr(field.size() + 2));
  return WithFieldViolations(std::move(status), {{std::move(field), std::move(description)}});
}

}  // namespace

bool IsFieldPath(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> violations;
  const auto payload = status.GetPayload(kBadRequestType);
  google::rpc::BadRequest bad_request;
  if (!payload.has_value() || !bad_request.ParseFromString(std::string(*payload))) {
    return violations;
  }
  for (const auto& violation : bad_request.field_violations()) {
    violations.push_back({violation.field(), violation.description()});
  }
  return violations;
}

absl::Status MergeInvalidArguments(const std::vector<absl::Status>& statuses) {
  std::vector<std::string> messages;
  std::vector<FieldViolation> violations;
  for (const absl::Status& status : statuses) {
    if (status.ok()) continue;
    messages.emplace_back(status.message());
    const absl::Status detailed =
        status.GetPayload(kBadRequestType).has_value() ? status : WithDerivedViolation(status);
    for (FieldViolation& violation : FieldViolationsOf(detailed)) {
      violations.push_back(std::move(violation));
    }
  }
  if (messages.empty()) return absl::OkStatus();
  return WithFieldViolations(absl::InvalidArgumentError(absl::StrJoin(messages, "; ")), violations);
}

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

absl::Status WithPreconditionViolation(absl::Status status, std::string_view type,
                                       std::string_view subject) {
  google::rpc::PreconditionFailure failure;
  auto* violation = failure.add_violations();
  violation->set_type(std::string(type));
  violation->set_subject(std::string(subject));
  violation->set_description(std::string(status.message()));
  status.SetPayload(kPreconditionFailureType, absl::Cord(failure.SerializeAsString()));
  return status;
}

absl::Status WithPreconditionViolations(
    absl::Status status, std::string_view type,
    const std::vector<std::pair<std::string, std::string>>& violations) {
  google::rpc::PreconditionFailure failure;
  for (const auto& [subject, description] : violations) {
    auto* violation = failure.add_violations();
    violation->set_type(std::string(type));
    violation->set_subject(subject);
    violation->set_description(description);
  }
  status.SetPayload(kPreconditionFailureType, absl::Cord(failure.SerializeAsString()));
  return status;
}

absl::Status IdempotencyKeyReused(std::string_view key) {
  return WithPreconditionViolation(
      absl::FailedPreconditionError(absl::StrCat(
          "idempotency_key: \"", std::string(key),
          "\" was already used for a different request; use a new key for a new request")),
      kKeyReusedType, key);
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
  if (rich.code() == absl::StatusCode::kInvalidArgument &&
      !rich.GetPayload(kBadRequestType).has_value()) {
    rich = WithDerivedViolation(std::move(rich));
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

}  // namespace booking::api
