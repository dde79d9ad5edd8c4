#pragma once

#include <grpcpp/support/status.h>

#include <cstdint>
#include <optional>
#include <string>

#include "rest/http_types.h"

namespace booking::rest {

// How a failed gRPC call leaves the REST side, as grpc-gateway renders it.

// The details of a serialized google.rpc.Status (gRPC's error_details()) as a JSON array in
// grpc-gateway's shape: [{"@type": "...BadRequest", "fieldViolations": [...]}]; "[]" if none.
std::string DetailsJson(const std::string& status_details);

// The HTTP status of a failed call: grpc-gateway's mapping of its code, except 422 for a reused
// idempotency key, as the IETF Idempotency-Key header draft asks.
int HttpStatusFor(const grpc::Status& status);

// A failed call as a REST error response, as grpc-gateway renders it: the status from
// HttpStatusFor, {"code","message","details"} in the body, and Retry-After from a RetryInfo.
GatewayResponse RestError(const grpc::Status& status);

// Whole seconds to put in Retry-After, from a RetryInfo in the serialized google.rpc.Status.
std::optional<int64_t> RetryAfterSeconds(const std::string& status_details);

}  // namespace booking::rest
