#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "api/token_authenticator.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "http/browser_guard.h"
#include "http/types.h"
#include "metrics/metrics.h"
#include "rest/json_transcoder.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::rest {

// What the HTTP port serves: `GET /health` and `/healthz` (the gRPC health service's answer),
// `GET /openapi.json`, `GET /metrics` (Prometheus text format) when metrics are given, `GET
// /tickets` (the original API's whole list, streamed: TicketListStream), and every annotated RPC
// through the transcoder; anything else is a JSON 404. Every request but the health checks first
// passes the http::BrowserGuard (403 otherwise). Writes one access log line per request.
class HttpGateway {
 public:
  HttpGateway(std::shared_ptr<grpc::Channel> channel, std::unique_ptr<JsonTranscoder> transcoder,
              std::string openapi_json, metrics::Metrics* metrics = nullptr,
              const api::TokenAuthenticator* metrics_auth = nullptr,
              http::BrowserGuardOptions browser = {});

  void Handle(http::Request request, absl::AnyInvocable<void(http::Response)> done);

 private:
  void Route(http::Request request, absl::AnyInvocable<void(http::Response)> done);
  void Health(absl::AnyInvocable<void(http::Response)> done);

  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::shared_ptr<tickets::v1::BookingService::Stub> tickets_;  // shared with ticket streams
  std::unique_ptr<JsonTranscoder> transcoder_;
  const std::string openapi_json_;
  metrics::Metrics* const metrics_;
  const api::TokenAuthenticator* const metrics_auth_;  // null: /metrics is open
  const http::BrowserGuard browser_;                   // Host and Origin, before any route
};

}  // namespace booking::rest
