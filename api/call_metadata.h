#pragma once

#include <grpcpp/server_context.h>

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace booking::api {

inline constexpr char kIdempotencyKeyHeader[] = "idempotency-key";
inline constexpr char kCorrelationIdHeader[] = "correlation-id";

// The value of a request metadata entry (keys are lower-case in gRPC), if present.
// The address of an HTTP client, which the REST gateway adds to the calls it makes in process;
// believed only on in-process calls (a remote caller's own metadata cannot claim another
// address), refused as a header.
inline constexpr std::string_view kClientAddressMetadata = "booking-client-address";

std::optional<std::string_view> FindMetadata(const grpc::ServerContextBase& context,
                                             std::string_view key);

// 1-128 characters of [A-Za-z0-9._:-]: safe in a log line and a header.
bool IsUsableCorrelationId(std::string_view id);

// The caller's correlation id when it is usable (1-128 characters of [A-Za-z0-9._:-]), otherwise
// a new UUID, so every call and event can be traced.
std::string ResolveCorrelationId(std::optional<std::string_view> incoming);

// The call's idempotency key from the `idempotency-key` metadata or the request field (which
// must agree when both are set): 1-255 printable ASCII characters. When neither is set it is
// INVALID_ARGUMENT if `required`, else a new UUID (every call then publishes).
absl::StatusOr<std::string> ResolveIdempotencyKey(std::optional<std::string_view> metadata,
                                                  std::string_view field, bool required);

}  // namespace booking::api
