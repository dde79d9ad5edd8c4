#include "rest/http_rules.h"

#include "google/api/annotations.pb.h"

namespace booking::rest {
namespace {

void Add(const google::protobuf::MethodDescriptor* method, const google::api::HttpRule& rule,
         std::vector<HttpBinding>& out) {
  HttpBinding binding;
  binding.method = method;
  binding.body = rule.body();
  binding.response_body = rule.response_body();
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet:
      binding.http_method = "GET";
      binding.path_template = rule.get();
      break;
    case google::api::HttpRule::kPost:
      binding.http_method = "POST";
      binding.path_template = rule.post();
      break;
    case google::api::HttpRule::kPut:
      binding.http_method = "PUT";
      binding.path_template = rule.put();
      break;
    case google::api::HttpRule::kPatch:
      binding.http_method = "PATCH";
      binding.path_template = rule.patch();
      break;
    case google::api::HttpRule::kDelete:
      binding.http_method = "DELETE";
      binding.path_template = rule.delete_();
      break;
    case google::api::HttpRule::kCustom:
      binding.http_method = rule.custom().kind();
      binding.path_template = rule.custom().path();
      break;
    default:
      return;
  }
  out.push_back(std::move(binding));
}

}  // namespace

std::vector<HttpBinding> CollectHttpBindings(const google::protobuf::ServiceDescriptor& service) {
  std::vector<HttpBinding> out;
  for (int i = 0; i < service.method_count(); ++i) {
    const google::protobuf::MethodDescriptor* method = service.method(i);
    if (!method->options().HasExtension(google::api::http)) continue;
    const google::api::HttpRule& rule = method->options().GetExtension(google::api::http);
    Add(method, rule, out);
    for (const google::api::HttpRule& extra : rule.additional_bindings()) Add(method, extra, out);
  }
  return out;
}

}  // namespace booking::rest
