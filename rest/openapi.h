#pragma once

#include <absl/types/span.h>
#include <google/protobuf/descriptor.h>

#include <string>

namespace booking::server {

// An OpenAPI 3.0.3 document (JSON) describing the REST bindings (google.api.http options, see
// CollectHttpBindings) of `services`, generated from their descriptors. Schemas follow the proto3
// JSON mapping with proto field names (snake_case), as the server prints them; messages become
// components named by their full name ("tickets.v1.Ticket"), errors are
// "#/components/schemas/Status".
std::string BuildOpenApiJson(absl::Span<const google::protobuf::ServiceDescriptor* const> services,
                             const std::string& title, const std::string& version);

}  // namespace booking::server
