#include "server/call_observer.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/call_metadata.h"
#include "spdlog/spdlog.h"

namespace booking::server {

std::string MethodLabel(std::string_view path) {
  // "/package.Service/Method" names a method of a service compiled into this binary, or nothing
  // we serve: a client may send any path, and each would otherwise become a label set.
  if (path.size() > 1 && path[0] == '/') {
    const size_t slash = path.find('/', 1);
    if (slash != std::string_view::npos && slash + 1 < path.size()) {
      const std::string full = absl::StrCat(std::string(path.substr(1, slash - 1)), ".",
                                            std::string(path.substr(slash + 1)));
      if (google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full) != nullptr) {
        return std::string(path);
      }
    }
  }
  return "unknown";
}

namespace {

using grpc::experimental::InterceptionHookPoints;

class CallObserver final : public grpc::experimental::Interceptor {
 public:
  CallObserver(grpc::experimental::ServerRpcInfo* info, metrics::Metrics* metrics)
      : info_(info), metrics_(metrics), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    // The correlation id is only for the access line: not copied when it will not be written.
    // The id the service answered with (its own when the caller's was unusable), else the
    // caller's if usable: a header value never reaches the log unchecked.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA) &&
        spdlog::should_log(spdlog::level::info)) {
      if (auto* metadata = methods->GetRecvInitialMetadata()) {
        auto it = metadata->find(api::kCorrelationIdHeader);
        if (it != metadata->end()) {
          const std::string_view id(it->second.data(), it->second.size());
          if (api::IsUsableCorrelationId(id)) correlation_id_.assign(id);
        }
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA) &&
        spdlog::should_log(spdlog::level::info)) {
      if (auto* metadata = methods->GetSendInitialMetadata()) {
        auto it = metadata->find(api::kCorrelationIdHeader);
        if (it != metadata->end()) correlation_id_ = it->second;
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Finish(methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  void Finish(const grpc::Status& status) {
    const absl::Duration latency = absl::Now() - start_;
    const std::string peer = info_->server_context()->peer();
    // In-process calls have no network peer (gRPC 1.51 says "unknown"): they are the gateway's.
    const bool via_gateway = !absl::StartsWith(peer, "ipv4:") && !absl::StartsWith(peer, "ipv6:") &&
                             !absl::StartsWith(peer, "unix:");
    const std::string code =
        absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
    const std::string method = MethodLabel(info_->method());
    if (metrics_ != nullptr) {
      metrics_->RecordCall(via_gateway ? "http" : "grpc", method, code, latency);
    }
    if (via_gateway || !spdlog::should_log(spdlog::level::info)) return;
    spdlog::info(
        "call protocol=grpc method={} code={} duration_ms={:.3f} peer={} correlation_id={}", method,
        code, absl::ToDoubleMilliseconds(latency), peer,
        correlation_id_.empty() ? "-" : correlation_id_);
  }

  grpc::experimental::ServerRpcInfo* const info_;
  metrics::Metrics* const metrics_;
  const absl::Time start_;
  std::string correlation_id_;
};

}  // namespace

grpc::experimental::Interceptor* CallObserverFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallObserver(info, metrics_);
}

}  // namespace booking::server
