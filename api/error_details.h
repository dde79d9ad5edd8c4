#pragma once

#include <grpcpp/support/status.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace booking::api {

// Google AIP-193 error details. They travel inside absl::Status as payloads keyed by their type
// URL (the serialized google.rpc message as the value), and leave the process as
// google.rpc.Status: in the gRPC trailer grpc-status-details-bin, which grpcurl and every gRPC
// library decode, and in the "details" array of a REST error, as grpc-gateway renders them.

inline constexpr char kBadRequestType[] = "type.googleapis.com/google.rpc.BadRequest";
inline constexpr char kRetryInfoType[] = "type.googleapis.com/google.rpc.RetryInfo";
inline constexpr char kPreconditionFailureType[] =
    "type.googleapis.com/google.rpc.PreconditionFailure";
// PreconditionFailure violation type: the idempotency key was first used with a different
// request. (google.rpc.ErrorInfo would be AIP-193's first choice, but Debian's copy of the
// googleapis protos predates it.)
inline constexpr char kKeyReusedType[] = "IDEMPOTENCY_KEY_REUSED";
// PreconditionFailure violation type: the handler an operator asked to retire is configured on
// the instance that took the call.
inline constexpr char kHandlerConfiguredType[] = "HANDLER_CONFIGURED";

// PreconditionFailure violation type: a cancellation names a ticket that was never confirmed.
// REST answers it 409 Conflict.
inline constexpr char kTicketNotConfirmedType[] = "TICKET_NOT_CONFIRMED";

// How long a client should wait before retrying RESOURCE_EXHAUSTED or UNAVAILABLE when the
// error says nothing more precise.
inline constexpr absl::Duration kDefaultRetryDelay = absl::Seconds(1);

// One broken rule, with the path of the offending field ("tickets[2].price.currency").
struct FieldViolation {
  std::string field;
  std::string description;
};

// `status` with a google.rpc.BadRequest listing `violations`.
[[nodiscard]] absl::Status WithFieldViolations(absl::Status status,
                                               const std::vector<FieldViolation>& violations);
// Whether `text` can be quoted as a field path ("tickets[2].price.currency", "page_size").
bool IsFieldPath(std::string_view text);

// The field violations of `status`'s google.rpc.BadRequest; none when it has none.
std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status);
// One INVALID_ARGUMENT naming every violation of `statuses` (each an INVALID_ARGUMENT, with or
// without a BadRequest), messages joined by "; ", so that a client sees every bad field of
// its call at once. OK statuses are skipped; OK when all are.
[[nodiscard]] absl::Status MergeInvalidArguments(const std::vector<absl::Status>& statuses);

// `status` with a google.rpc.PreconditionFailure holding one violation ({type, subject}, the
// status's message as its description).
[[nodiscard]] absl::Status WithPreconditionViolation(absl::Status status, std::string_view type,
                                                     std::string_view subject);
// `status` with a google.rpc.PreconditionFailure holding a violation of `type` per (subject,
// description) of `violations`.
[[nodiscard]] absl::Status WithPreconditionViolations(
    absl::Status status, std::string_view type,
    const std::vector<std::pair<std::string, std::string>>& violations);
// FAILED_PRECONDITION (the request is valid, but the key is bound to another request) naming the
// key, with a google.rpc.PreconditionFailure {type: IDEMPOTENCY_KEY_REUSED, subject: the key}.
absl::Status IdempotencyKeyReused(std::string_view key);

// `status` with a google.rpc.RetryInfo saying when to retry.
[[nodiscard]] absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);

// Same code and message; the payloads become google.rpc.Status details. RESOURCE_EXHAUSTED and
// UNAVAILABLE always carry a RetryInfo (kDefaultRetryDelay unless the status has one), and
// INVALID_ARGUMENT always a BadRequest: when the status has none, one violation whose field is
// what the message names before its ": " (every message here starts "field: ...").
// Deriving the detail at this one exit means no refusal can leave without it.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace booking::api
