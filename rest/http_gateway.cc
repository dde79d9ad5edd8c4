#include "rest/http_gateway.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/call_metadata.h"
#include "api/error_details.h"
#include "common/logging.h"
#include "console/assets.h"
#include "rest/rest_error.h"
#include "rest/ticket_list_stream.h"
#include "spdlog/spdlog.h"

namespace booking::rest {
namespace {

// Tickets per ListTickets page of a streamed GET /tickets (the service's own cap,
// BookingServiceOptions::max_page_size, is the same 1000).
constexpr int kTicketListPageSize = 1000;

}  // namespace

HttpGateway::HttpGateway(std::shared_ptr<grpc::Channel> channel,
                         std::unique_ptr<JsonTranscoder> transcoder, std::string openapi_json,
                         metrics::Metrics* metrics, const api::TokenAuthenticator* metrics_auth,
                         http::BrowserGuardOptions browser)
    : health_(grpc::health::v1::Health::NewStub(channel)),
      tickets_(tickets::v1::BookingService::NewStub(channel)),
      transcoder_(std::move(transcoder)),
      openapi_json_(std::move(openapi_json)),
      metrics_(metrics),
      metrics_auth_(metrics_auth),
      browser_(browser) {}

void HttpGateway::Handle(http::Request request, absl::AnyInvocable<void(http::Response)> done) {
  if (!spdlog::should_log(spdlog::level::info)) {
    Route(std::move(request), std::move(done));
    return;
  }
  // The caller's id only if it is safe in a log line; the service's answer wins (below).
  std::string correlation_id = "-";
  for (const auto& [name, value] : request.headers) {
    if (name == api::kCorrelationIdHeader && api::IsUsableCorrelationId(value))
      correlation_id = value;
  }
  // The query string is left out of the log: it may carry page tokens.
  std::string method = request.method;
  std::string path = request.target.substr(0, request.target.find('?'));
  Route(std::move(request), [done = std::move(done), method = std::move(method),
                             path = std::move(path), correlation_id = std::move(correlation_id),
                             start = absl::Now()](http::Response response) mutable {
    for (const auto& [name, value] : response.headers) {
      if (name == "Correlation-ID") correlation_id = value;  // the id the service used
    }
    spdlog::info(
        "call protocol=http method={} path={} status={} duration_ms={:.3f} "
        "correlation_id={}",
        common::LogValue(method), common::LogValue(path), response.status,
        absl::ToDoubleMilliseconds(absl::Now() - start), correlation_id);
    done(std::move(response));
  });
}

void HttpGateway::Route(http::Request request, absl::AnyInvocable<void(http::Response)> done) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  const bool health = request.method == "GET" && (path == "/health" || path == "/healthz");
  if (absl::Status browser = browser_.Check(request); !browser.ok() && !health) {
    http::Response response;
    response.status = 403;
    response.body = ErrorJson(7, std::string(browser.message()));
    done(std::move(response));
    return;
  }
  if (request.method == "GET" && path == "/metrics" && metrics_ != nullptr) {
    http::Response response;
    if (metrics_auth_ != nullptr) {
      std::optional<std::string_view> header;
      for (const auto& [name, value] : request.headers) {
        if (name == "authorization") header = value;
      }
      if (absl::Status auth = metrics_auth_->CheckHeader(header, api::Scope::kMetrics);
          !auth.ok()) {
        const bool denied = absl::IsPermissionDenied(auth);  // a known token without the scope
        response.status = denied ? 403 : 401;
        response.body = ErrorJson(denied ? 7 : 16, std::string(auth.message()));
        if (!denied) response.headers.emplace_back("WWW-Authenticate", "Bearer");
        done(std::move(response));
        return;
      }
    }
    response.body = metrics_->Render();
    response.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    done(std::move(response));
    return;
  }
  if (health) {
    Health(std::move(done));
    return;
  }
  if (request.method == "GET" && path == "/tickets") {
    // The original service answered every ticket at once: all pages, as one streamed array. It
    // takes no query: a parameter it would ignore (?page_size=1) is refused, naming it.
    if (const size_t query = request.target.find('?');
        query != std::string::npos && query + 1 < request.target.size()) {
      const std::string first = request.target.substr(query + 1, 64);
      const std::string name = first.substr(0, first.find_first_of("=&"));
      done(RestError(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat(api::IsFieldPath(name) ? name : "query",
                       ": GET /tickets answers every ticket and takes no query parameters; "
                       "page with GET /v1/tickets?page_size=&page_token="))));
      return;
    }
    TicketListStream::Metadata metadata;
    for (const auto& [name, value] : request.headers) {
      if (name == "authorization" || name == api::kCorrelationIdHeader) {
        metadata.emplace_back(name, value);
      }
    }
    TicketListStream::Start(tickets_, std::move(metadata), kTicketListPageSize, std::move(done));
    return;
  }
  if (const console::Asset* asset = request.method == "GET" ? console::FindAsset(path) : nullptr;
      asset != nullptr) {
    // The console's files: static, so open; every call the page makes carries the user's token.
    http::Response response;
    response.body = std::string(asset->body);
    response.headers = {{"Content-Type", std::string(asset->content_type)},
                        {"Cache-Control", "no-cache"},
                        {"X-Content-Type-Options", "nosniff"},
                        {"Referrer-Policy", "no-referrer"},
                        {"Content-Security-Policy", std::string(console::kContentSecurityPolicy)}};
    done(std::move(response));
    return;
  }
  if (request.method == "GET" && path == "/openapi.json") {
    http::Response response;
    response.body = openapi_json_;
    done(std::move(response));
    return;
  }
  const std::string method = request.method;
  // Handle() keeps `done` when it returns false, so it is still ours to answer with.
  auto shared_done = std::make_shared<absl::AnyInvocable<void(http::Response)>>(std::move(done));
  const bool routed = transcoder_->Handle(
      std::move(request),
      [shared_done](http::Response response) { (*shared_done)(std::move(response)); });
  if (!routed) {
    http::Response response;
    response.status = 404;
    response.body = ErrorJson(5, absl::StrCat("no route for ", method, " ", path));
    (*shared_done)(std::move(response));
  }
}

void HttpGateway::Health(absl::AnyInvocable<void(http::Response)> done) {
  struct Call {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    absl::AnyInvocable<void(http::Response)> done;
  };
  auto* call = new Call;
  call->done = std::move(done);
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  health_->async()->Check(
      &call->context, &call->request, &call->response, [call](grpc::Status status) {
        std::unique_ptr<Call> owned(call);
        const bool serving = status.ok() && owned->response.status() ==
                                                grpc::health::v1::HealthCheckResponse::SERVING;
        http::Response response;
        response.status = serving ? 200 : 503;
        response.body = serving ? R"({"status":"SERVING"})" : R"({"status":"NOT_SERVING"})";
        // The context goes first: the caller may tear the channel down once answered.
        absl::AnyInvocable<void(http::Response)> done = std::move(owned->done);
        owned.reset();
        done(std::move(response));
      });
}

}  // namespace booking::rest
