#pragma once

#include <google/protobuf/descriptor.h>

#include <string>
#include <vector>

namespace booking::rest {

// One REST binding of an RPC, as its google.api.http option (or one of its
// additional_bindings) declares it.
struct HttpBinding {
  const google::protobuf::MethodDescriptor* method = nullptr;
  std::string http_method;    // "GET", "POST", "PUT", "PATCH", "DELETE" (or a custom kind)
  std::string path_template;  // "/v1/tickets/{ticket_id}"
  std::string body;           // "", "*" or a field name
  std::string response_body;  // "" or a field name
};

// Every binding of every method of `service`, in declaration order. Methods without the option
// have none.
std::vector<HttpBinding> CollectHttpBindings(const google::protobuf::ServiceDescriptor& service);

}  // namespace booking::rest
