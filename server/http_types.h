#pragma once

#include <string>
#include <utility>
#include <vector>

namespace booking::server {

// An HTTP request as the gateway sees it, independent of the HTTP library.
struct GatewayRequest {
  std::string method;        // "GET", "POST", ...
  std::string target;        // path and query, e.g. "/v1/tickets?page_size=10"
  std::string content_type;  // "" when absent
  std::string body;
  // Headers, names in lower case.
  std::vector<std::pair<std::string, std::string>> headers;
};

struct GatewayResponse {
  int status = 200;
  std::string body;                                          // JSON
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type
};

// The HTTP status for a gRPC code, as grpc-gateway maps them (INVALID_ARGUMENT 400,
// NOT_FOUND 404, ALREADY_EXISTS 409, RESOURCE_EXHAUSTED 429, UNAVAILABLE 503, ...).
int HttpStatusForGrpcCode(int code);

// {"code": <grpc code>, "message": "...", "details": <details_json>}
std::string ErrorJson(int grpc_code, const std::string& message,
                      const std::string& details_json = "[]");

}  // namespace booking::server
