#pragma once

#include <google/protobuf/descriptor.h>
#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "http/types.h"
#include "rest/gateway_stream.h"
#include "rest/http_rules.h"
#include "rest/path_template.h"

namespace booking::rest {

// grpc-gateway-style REST for gRPC services, driven by their google.api.http annotations alone:
// routes come from the descriptors (every binding, additional_bindings included), a request
// becomes the RPC's input message (path variables, the body or one body field, query
// parameters into the remaining fields, nested `a.b`, repeated), and the call goes through
// `channel` (in-process), so it meets the same interceptors and validation as gRPC clients.
// Responses honour response_body; errors are {"code","message","details"} with the mapped status.
class JsonTranscoder {
 public:
  // `channel` and the services' descriptors must outlive the transcoder.
  static absl::StatusOr<std::unique_ptr<JsonTranscoder>> Create(
      std::shared_ptr<grpc::Channel> channel,
      const std::vector<const google::protobuf::ServiceDescriptor*>& services,
      absl::Duration call_timeout);

  // Handles one request; `done` runs exactly once, possibly on a gRPC thread. False (and `done`
  // not run) when no route has this path, so the caller can try its own routes.
  bool Handle(http::Request request, absl::AnyInvocable<void(http::Response)> done);

  // Server-Sent Events streams send a comment after this much silence (proxies and browsers
  // keep the connection; a client that went away is noticed).
  void set_stream_heartbeat(absl::Duration heartbeat) { stream_heartbeat_ = heartbeat; }

  // Converts the request of a matched route into its input message, for tests and fuzzing:
  // INVALID_ARGUMENT naming what is wrong.
  struct Route {
    HttpBinding binding;
    PathTemplate path;
    std::string grpc_method;  // "/package.Service/Method"; outlives calls (RpcMethod keeps it)
  };
  absl::Status BuildInput(const Route& route, const http::Request& request,
                          const std::vector<std::pair<std::string, std::string>>& bindings,
                          google::protobuf::Message& input) const;

  // The route for `method` and `path` (nullptr if none), or the allowed methods when only the
  // path matches.
  const Route* Find(const std::string& method, std::string_view path,
                    std::vector<std::pair<std::string, std::string>>* bindings,
                    std::vector<std::string>* allowed) const;

 private:
  JsonTranscoder(std::shared_ptr<grpc::Channel> channel, absl::Duration call_timeout);

  std::shared_ptr<grpc::Channel> channel_;
  grpc::GenericStub stub_;
  const absl::Duration call_timeout_;
  absl::Duration stream_heartbeat_ = absl::Seconds(15);
  // Timers of the open streams (created with the first stream).
  std::once_flag clock_once_;
  std::unique_ptr<GatewayStream::Clock> clock_;
  std::vector<Route> routes_;
};

}  // namespace booking::rest
