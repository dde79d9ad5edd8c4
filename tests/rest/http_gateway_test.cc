// The HTTP port's routing, over an in-process gRPC server with the default health service, the
// test-only echo service (for the transcoder) and a BookingService fake (for GET /tickets).
#include "rest/http_gateway.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "echotest/v1/echo.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"
#include "tests/fakes/fake_booking_service.h"
#include "tests/support/awaited.h"

namespace booking::rest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kOpenApi[] = R"({"openapi":"3.0.3","info":{"title":"test"}})";
const std::pair<std::string, std::string> kHost = {"host", "127.0.0.1:8080"};

class EchoImpl final : public echotest::v1::EchoService::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const echotest::v1::EchoRequest* request,
                                 echotest::v1::EchoResponse* response) override {
    *response->mutable_request() = *request;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

std::string HeaderOf(const http::Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "(none)";
}

class HttpGatewayTest : public ::testing::Test {
 protected:
  HttpGatewayTest() {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.RegisterService(&echo_);
    builder.RegisterService(&tickets_);
    server_ = builder.BuildAndStart();
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
    MakeGateway();
  }
  ~HttpGatewayTest() override {
    gateway_.reset();
    server_->Shutdown();
  }

  void MakeGateway(metrics::Metrics* metrics = nullptr,
                   const api::TokenAuthenticator* metrics_auth = nullptr,
                   http::BrowserGuardOptions browser = {}) {
    absl::StatusOr<std::unique_ptr<JsonTranscoder>> transcoder = JsonTranscoder::Create(
        channel_,
        {google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            "echotest.v1.EchoService")},
        absl::Seconds(10));
    ASSERT_TRUE(transcoder.ok()) << transcoder.status();
    gateway_ = std::make_unique<HttpGateway>(channel_, *std::move(transcoder), kOpenApi, metrics,
                                             metrics_auth, std::move(browser));
  }

  // The gateway's answer (status -1 if none came within the bound).
  http::Response Call(const std::string& method, const std::string& target,
                      Headers headers = {kHost}, const std::string& body = "") {
    http::Request request;
    request.method = method;
    request.target = target;
    request.body = body;
    if (!body.empty()) request.content_type = "application/json";
    request.headers = std::move(headers);
    auto answer = std::make_shared<testing::Awaited<http::Response>>();
    gateway_->Handle(std::move(request),
                     [answer](http::Response response) { answer->Set(std::move(response)); });
    std::optional<http::Response> response = answer->Take();
    EXPECT_TRUE(response.has_value()) << method << " " << target << ": no answer";
    if (!response.has_value()) response.emplace().status = -1;
    return *std::move(response);
  }

  static std::string TokenFile(const std::string& content) {
    const std::string path = absl::StrCat(::testing::TempDir(), "gateway-tokens-", getpid());
    std::ofstream(path) << content;
    return path;
  }

  EchoImpl echo_;
  testing::FakeBookingService tickets_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<HttpGateway> gateway_;
};

TEST_F(HttpGatewayTest, HealthFollowsTheHealthService) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  ASSERT_NE(health, nullptr);
  health->SetServingStatus(true);
  for (const char* path : {"/health", "/healthz"}) {
    http::Response serving = Call("GET", path);
    EXPECT_EQ(serving.status, 200) << path;
    EXPECT_EQ(serving.body, R"({"status":"SERVING"})") << path;
  }
  health->SetServingStatus(false);
  for (const char* path : {"/health", "/healthz"}) {
    http::Response down = Call("GET", path);
    EXPECT_EQ(down.status, 503) << path;
    EXPECT_EQ(down.body, R"({"status":"NOT_SERVING"})") << path;
  }
}

TEST_F(HttpGatewayTest, OpenApiServesTheGivenDocument) {
  http::Response response = Call("GET", "/openapi.json");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, kOpenApi);
}

TEST_F(HttpGatewayTest, UnknownPathIsAJson404) {
  http::Response response = Call("GET", "/nowhere?page_token=x");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, R"({"code":5,"message":"no route for GET /nowhere","details":[]})");
  EXPECT_EQ(Call("GET", "/metrics").status, 404) << "no metrics given: no /metrics route";
  EXPECT_EQ(Call("POST", "/openapi.json", {kHost}, "{}").status, 404) << "GET only";
}

TEST_F(HttpGatewayTest, MetricsAreOpenWithoutAuthenticator) {
  metrics::Metrics metrics;
  metrics.AddGauge("test_answer", "A gauge of the test.", [] { return 42; });
  MakeGateway(&metrics);
  http::Response response = Call("GET", "/metrics");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(HeaderOf(response, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(response.body, HasSubstr("test_answer 42"));
}

TEST_F(HttpGatewayTest, MetricsWithAuthenticatorNeedATokenWithTheMetricsScope) {
  metrics::Metrics metrics;
  metrics.AddGauge("test_answer", "A gauge of the test.", [] { return 42; });
  absl::StatusOr<std::unique_ptr<api::TokenAuthenticator>> auth = api::TokenAuthenticator::FromFile(
      TokenFile("scraper-7f3a metrics\nbox-office-21be write,read\n"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  MakeGateway(&metrics, auth->get());

  http::Response anonymous = Call("GET", "/metrics");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(HeaderOf(anonymous, "WWW-Authenticate"), "Bearer");
  EXPECT_THAT(anonymous.body, HasSubstr(R"("code":16)"));
  EXPECT_THAT(anonymous.body, Not(HasSubstr("test_answer")));

  http::Response unknown = Call("GET", "/metrics", {kHost, {"authorization", "Bearer guess"}});
  EXPECT_EQ(unknown.status, 401);

  http::Response box_office =
      Call("GET", "/metrics", {kHost, {"authorization", "Bearer box-office-21be"}});
  EXPECT_EQ(box_office.status, 403) << "a known token without the scope";
  EXPECT_THAT(box_office.body, HasSubstr(R"("code":7)"));
  EXPECT_THAT(box_office.body, Not(HasSubstr("box-office-21be"))) << "never echoes the token";

  http::Response scraper =
      Call("GET", "/metrics", {kHost, {"authorization", "Bearer scraper-7f3a"}});
  EXPECT_EQ(scraper.status, 200);
  EXPECT_THAT(scraper.body, HasSubstr("test_answer 42"));
}

TEST_F(HttpGatewayTest, AnnotatedRpcGoesThroughTheTranscoder) {
  http::Response response = Call("POST", "/v1/echo/rooms/7:shout", {kHost}, R"({"text":"hi"})");
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_THAT(response.body, HasSubstr(R"({"name":"rooms/7","message":{"text":"hi",)"))
      << "the echoed request: path variable and body field";
  EXPECT_EQ(Call("DELETE", "/v1/echo-all").status, 405) << "the transcoder's answer, not a 404";
}

// A page of another site, open in an operator's browser, may send a POST here (no preflight),
// or read under its own host name (DNS rebinding): both are refused before any route.
TEST_F(HttpGatewayTest, BrowserGuardRefusesForeignOriginsAndHostsBeforeAnyRoute) {
  http::BrowserGuardOptions browser;
  browser.allowed_origins = {"https://console.example.com"};
  MakeGateway(nullptr, nullptr, browser);
  http::Response foreign = Call("POST", "/v1/echo/rooms/7:shout",
                                {kHost, {"origin", "https://evil.example"}}, R"({"text":"hi"})");
  EXPECT_EQ(foreign.status, 403);
  EXPECT_THAT(foreign.body, HasSubstr(R"("code":7)"));
  EXPECT_THAT(foreign.body, HasSubstr("--http_allowed_origins"));
  http::Response allowed =
      Call("POST", "/v1/echo/rooms/7:shout", {kHost, {"origin", "https://console.example.com"}},
           R"({"text":"hi"})");
  EXPECT_EQ(allowed.status, 200) << allowed.body;

  const Headers rebound = {{"host", "evil.example:8080"}};
  EXPECT_EQ(Call("GET", "/openapi.json", rebound).status, 403);
  EXPECT_EQ(Call("GET", "/nowhere", rebound).status, 403) << "before the 404, too";
  // Load balancers probe health under any name they like.
  server_->GetHealthCheckService()->SetServingStatus(true);
  EXPECT_EQ(Call("GET", "/health", rebound).status, 200);
}

TEST_F(HttpGatewayTest, TicketsIsTheWholeListStreamed) {
  tickets_.SetPages({{testing::MakeTicket("t1")}, {testing::MakeTicket("t2")}});
  http::Response response =
      Call("GET", "/tickets", {kHost, {"authorization", "Bearer reader"}, {"accept", "*/*"}});
  ASSERT_EQ(response.status, 200) << response.body;
  ASSERT_NE(response.stream, nullptr);
  std::string body;
  for (int i = 0; i < 10; ++i) {
    auto piece = std::make_shared<testing::Awaited<absl::StatusOr<std::string>>>();
    response.stream->Next([piece](absl::StatusOr<std::string> p) { piece->Set(std::move(p)); });
    std::optional<absl::StatusOr<std::string>> got = piece->Take();
    ASSERT_TRUE(got.has_value() && got->ok());
    if ((*got)->empty()) break;
    body += **got;
  }
  google::protobuf::ListValue list;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(body, &list).ok()) << body;
  EXPECT_EQ(list.values_size(), 2);
  ASSERT_FALSE(tickets_.list_calls().empty());
  EXPECT_EQ(tickets_.list_calls()[0].authorization, "Bearer reader") << "passed on to the call";

  http::Response paged = Call("GET", "/tickets?page_size=1");
  EXPECT_EQ(paged.status, 400);
  EXPECT_THAT(paged.body, HasSubstr("page_size: GET /tickets answers every ticket"));
}

TEST_F(HttpGatewayTest, ConsolePageIsServedWithAStrictPolicy) {
  http::Response response = Call("GET", "/");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(HeaderOf(response, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_THAT(HeaderOf(response, "Content-Security-Policy"), HasSubstr("default-src 'none'"));
}

// One line per request, with the caller's correlation id; the query string is left out (it may
// carry page tokens, or anything else a caller put there).
TEST_F(HttpGatewayTest, AccessLogLineWithoutTheQuery) {
  std::ostringstream log;
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(logger);
  http::Response response = Call("GET", "/v1/files/a.txt?message.text=secret-token",
                                 {kHost, {"correlation-id", "call-42"}});
  spdlog::set_default_logger(previous);
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_THAT(log.str(),
              HasSubstr("call protocol=http method=GET path=/v1/files/a.txt status=200"));
  EXPECT_THAT(log.str(), HasSubstr("correlation_id=call-42"));
  EXPECT_THAT(log.str(), Not(HasSubstr("secret-token")));
}

}  // namespace
}  // namespace booking::rest
