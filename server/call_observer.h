#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <string>
#include <string_view>

#include "metrics/metrics.h"

namespace booking::server {

// The method label of a call's path: the path when it names a method of a service compiled into
// this binary, else "unknown". Keeps the metrics' label sets bounded whatever clients send.
std::string MethodLabel(std::string_view path);

// Watches every gRPC call: counts it in the metrics by method and status code with its latency,
// and writes one access log line. Calls from the in-process channel are REST requests coming
// through the gateway: they are counted as protocol "http", and the gateway writes their access
// line (with the HTTP status), so each call has exactly one.
class CallObserverFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallObserverFactory(metrics::Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  metrics::Metrics* const metrics_;  // may be null: access log only
};

}  // namespace booking::server
