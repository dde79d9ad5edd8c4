#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"
#include "server/http_types.h"
#include "server/json_transcoder.h"

namespace booking::server {

// What the HTTP port serves: `GET /health` and `/healthz` (the gRPC health service's answer),
// `GET /openapi.json`, and every annotated RPC through the transcoder; anything else is a JSON
// 404.
class HttpGateway {
 public:
  HttpGateway(std::shared_ptr<grpc::Channel> channel, std::unique_ptr<JsonTranscoder> transcoder,
              std::string openapi_json);

  void Handle(GatewayRequest request, absl::AnyInvocable<void(GatewayResponse)> done);

 private:
  void Health(absl::AnyInvocable<void(GatewayResponse)> done);

  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::unique_ptr<JsonTranscoder> transcoder_;
  const std::string openapi_json_;
};

}  // namespace booking::server
