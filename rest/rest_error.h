#pragma once

#include <grpcpp/support/status.h>

#include <cstdint>
#include <optional>
#include <string>

#include "http/types.h"

namespace booking::rest {

// How a failed gRPC call leaves the REST side, as grpc-gateway renders it.

// The HTTP status for a gRPC code, as grpc-gateway maps them (INVALID_ARGUMENT 400,
// NOT_FOUND 404, ALREADY_EXISTS 409, RESOURCE_EXHAUSTED 429, UNAVAILABLE 503, ...).
int HttpStatusForGrpcCode(int code);

// {"code": <grpc code>, "message": "...", "details": <details_json>}
std::string ErrorJson(int grpc_code, const std::string& message,
                      const std::string& details_json = "[]");

// The details of a serialized google.rpc.Status (gRPC's error_details()) as a JSON array in
// grpc-gateway's shape: [{"@type": "...BadRequest", "fieldViolations": [...]}]; "[]" if none.
std::string DetailsJson(const std::string& status_details);

// The HTTP status of a failed call: grpc-gateway's mapping of its code, except 422 for a reused
// idempotency key, as the IETF Idempotency-Key header draft asks.
int HttpStatusFor(const grpc::Status& status);

// A failed call as a REST error response, as grpc-gateway renders it: the status from
// HttpStatusFor, {"code","message","details"} in the body, and Retry-After from a RetryInfo.
http::Response RestError(const grpc::Status& status);

// The body of the HTTP server's own refusals (http::ServerOptions::error_body): 413 as
// RESOURCE_EXHAUSTED, 503 as UNAVAILABLE, anything else as INVALID_ARGUMENT (with its BadRequest),
// rendered as RestError renders the services' errors.
std::string RefusalJson(int http_status, std::string_view message);

// Whole seconds to put in Retry-After, from a RetryInfo in the serialized google.rpc.Status.
std::optional<int64_t> RetryAfterSeconds(const std::string& status_details);

}  // namespace booking::rest
