#pragma once

#include <absl/types/span.h>
#include <google/protobuf/descriptor.h>

#include <functional>
#include <map>
#include <set>
#include <string>

#include "openapi/proto_comments.h"

namespace booking::openapi {

// An OpenAPI 3.0.3 document (JSON) describing the REST bindings (google.api.http options, see
// CollectHttpBindings) of `services`, generated from their descriptors. Schemas follow the proto3
// JSON mapping with proto field names (snake_case), as the server prints them; messages become
// components named by their full name ("tickets.v1.Ticket"), errors are
// "#/components/schemas/Status".
struct OpenApiOptions {
  // The bearer-token scope a method needs when tokens are on ("" for none): the operation
  // gets the bearer security requirement (or none: tokens are off by default), its 401/403
  // answers, and the scope as x-booking-scope.
  std::function<std::string(const google::protobuf::MethodDescriptor&)> scope_of;
  // GET /health and GET /metrics, which the gateway serves itself.
  bool server_paths = false;
  // Paths the gateway serves whole, refusing any query ("/tickets", the original API's list).
  std::set<std::string> paths_without_query;
  // Where summaries and descriptions come from (operations, schemas, properties, parameters);
  // none: summaries from the method names.
  const ProtoComments* comments = nullptr;
  // Example values (JSON text) by field full name ("tickets.v1.GetTicketRequest.ticket_id"),
  // for parameters and schema properties, and example bodies by method full name.
  std::map<std::string, std::string> field_examples;
  std::map<std::string, std::string> body_examples;
  // Answers a method gives beyond those every operation documents (400, 429, 503, default;
  // 401/403 with a scope, 404 with a path variable, 422 with an idempotency key): HTTP status
  // to description, by method full name.
  std::map<std::string, std::map<int, std::string>> extra_answers;
};

std::string BuildOpenApiJson(absl::Span<const google::protobuf::ServiceDescriptor* const> services,
                             const std::string& title, const std::string& version,
                             const OpenApiOptions& options = {});

}  // namespace booking::openapi
