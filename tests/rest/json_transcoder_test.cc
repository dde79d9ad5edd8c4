// The transcoder against a test-only annotated service (echotest/v1/echo.proto) on an in-process
// gRPC server: no gateway code knows about it, the annotations alone make it reachable.
#include "rest/json_transcoder.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <future>

#include "absl/strings/str_cat.h"
#include "api/error_details.h"
#include "echotest/v1/echo.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::rest {
namespace {

using ::testing::HasSubstr;

class EchoImpl final : public echotest::v1::EchoService::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const echotest::v1::EchoRequest* request,
                                 echotest::v1::EchoResponse* response) override {
    *response->mutable_request() = *request;
    auto it = context->client_metadata().find("x-user");
    if (it != context->client_metadata().end()) {
      response->set_served_by(std::string(it->second.data(), it->second.size()));
    }
    auto* reactor = context->DefaultReactor();
    if (request->name() == "rooms/fail") {
      reactor->Finish(grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "room taken"));
    } else if (request->name() == "rooms/busy") {
      reactor->Finish(api::ToGrpcStatus(
          api::WithRetryDelay(absl::ResourceExhaustedError("busy"), absl::Milliseconds(2500))));
    } else if (request->name() == "rooms/bad") {
      reactor->Finish(api::ToGrpcStatus(api::WithFieldViolations(
          absl::InvalidArgumentError("two bad"), {{"a.b", "is required"}, {"c[1]", "too big"}})));
    } else {
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }
};

class JsonTranscoderTest : public ::testing::Test {
 protected:
  // One server for the suite: gRPC 1.51 once freed a completion queue twice while servers with
  // callback services were made and destroyed one after another in one process.
  static void SetUpTestSuite() {
    echo_ = new EchoImpl();
    grpc::ServerBuilder builder;
    builder.RegisterService(echo_);
    server_ = builder.BuildAndStart().release();
    transcoder_ = JsonTranscoder::Create(
                      server_->InProcessChannel(grpc::ChannelArguments()),
                      {google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
                          "echotest.v1.EchoService")},
                      absl::Seconds(10))
                      ->release();
  }
  static void TearDownTestSuite() {
    delete transcoder_;
    server_->Shutdown();
    delete server_;
    delete echo_;
  }

  // PUT /v1/echo-all with this Content-Type.
  http::Response SendTyped(const std::string& content_type, const std::string& body) {
    http::Request request{"PUT", "/v1/echo-all", content_type, body, {}};
    std::promise<http::Response> promise;
    transcoder_->Handle(request, [&](http::Response r) { promise.set_value(std::move(r)); });
    return promise.get_future().get();
  }

  http::Response Send(const std::string& method, const std::string& target,
                      const std::string& body = "",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request request{method, target, body.empty() ? "" : "application/json", body,
                          std::move(headers)};
    std::promise<http::Response> promise;
    auto future = promise.get_future();
    const bool routed = transcoder_->Handle(
        request, [&promise](http::Response response) { promise.set_value(std::move(response)); });
    if (!routed) return {-1, "", {}};
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return future.get();
  }
  static google::protobuf::Struct Parse(const std::string& json) {
    google::protobuf::Struct out;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &out).ok()) << json;
    return out;
  }

  static EchoImpl* echo_;
  static grpc::Server* server_;
  static JsonTranscoder* transcoder_;
};

EchoImpl* JsonTranscoderTest::echo_ = nullptr;
grpc::Server* JsonTranscoderTest::server_ = nullptr;
JsonTranscoder* JsonTranscoderTest::transcoder_ = nullptr;

TEST_F(JsonTranscoderTest, PathBodyFieldQueryAndResponseBody) {
  http::Response response =
      Send("POST",
           "/v1/echo/rooms/"
           "7:shout?numbers=1&numbers=2&color=COLOR_RED&big=9007199254740993&loud=true&ratio=0.5",
           R"({"text":"hi","tags":["a"]})");
  ASSERT_EQ(response.status, 200) << response.body;
  // response_body "request": the EchoRequest alone, with proto field names.
  EXPECT_EQ(response.body,
            R"({"name":"rooms/7","message":{"text":"hi","tags":["a"]},"numbers":[1,2],)"
            R"("color":"COLOR_RED","big":"9007199254740993","loud":true,"ratio":0.5})")
      << "fields in declaration order, proto names, 64-bit integers as strings";
}

TEST_F(JsonTranscoderTest, NestedPathVariableAndNestedQuery) {
  http::Response response =
      Send("GET", "/v1/echo/rooms/9/messages/hello%20there?message.tags=x&message.tags=y&color=2");
  ASSERT_EQ(response.status, 200) << response.body;
  google::protobuf::Struct echoed = Parse(response.body);
  const auto& request = echoed.fields().at("request").struct_value().fields();
  EXPECT_EQ(request.at("name").string_value(), "rooms/9");
  const auto& message = request.at("message").struct_value().fields();
  EXPECT_EQ(message.at("text").string_value(), "hello there");
  EXPECT_EQ(message.at("tags").list_value().values_size(), 2);
  EXPECT_EQ(request.at("color").string_value(), "COLOR_GREEN") << "enum by number";
}

// Timestamps and durations in a query as their JSON text, as grpc-gateway reads them; text that
// is neither is refused naming the parameter.
TEST_F(JsonTranscoderTest, TimestampsAndDurationsInTheQuery) {
  http::Response response =
      Send("GET", "/v1/echo/rooms/9/messages/hi?at=2026-12-08T09:30:00.5Z&within=1.5s");
  ASSERT_EQ(response.status, 200) << response.body;
  const google::protobuf::Struct echoed = Parse(response.body);
  const auto& request = echoed.fields().at("request").struct_value().fields();
  EXPECT_EQ(request.at("at").string_value(), "2026-12-08T09:30:00.500Z");
  EXPECT_EQ(request.at("within").string_value(), "1.500s");
  for (const char* bad : {"at=yesterday", "at=2026-12-08", "within=soon"}) {
    http::Response refused = Send("GET", absl::StrCat("/v1/echo/rooms/9/messages/hi?", bad));
    EXPECT_EQ(refused.status, 400) << bad << ": " << refused.body;
    EXPECT_THAT(refused.body, ::testing::HasSubstr(std::string(bad).substr(0, 2))) << bad;
  }
  EXPECT_EQ(Send("GET", "/v1/echo/rooms/9/messages/hi?message.text=x&at.seconds=1").status, 400)
      << "a timestamp is set whole, not by its fields";
}

TEST_F(JsonTranscoderTest, WholeBodyAcceptsBothNameStylesAndMultiSegmentPaths) {
  http::Response response = Send(
      "PUT", "/v1/echo-all", R"({"name":"n","message":{"text":"t"},"loud":true,"numbers":[3]})");
  ASSERT_EQ(response.status, 200) << response.body;
  http::Response camel = Send("PUT", "/v1/echo-all", R"({"name":"n","numbers":[3],"ratio":2})");
  EXPECT_EQ(camel.status, 200) << camel.body;
  http::Response files = Send("GET", "/v1/files/a/b/c.txt");
  ASSERT_EQ(files.status, 200);
  EXPECT_EQ(
      Parse(files.body).fields().at("request").struct_value().fields().at("name").string_value(),
      "a/b/c.txt");
}

// curl -d sends form-urlencoded, some clients text/plain or nothing: grpc-gateway and Envoy read
// such a body as JSON, and so do we.
TEST_F(JsonTranscoderTest, JsonBodyWithoutJsonContentTypeIsReadAsJson) {
  for (const char* type : {"", "application/x-www-form-urlencoded", "text/plain",
                           "text/plain; charset=utf-8", "application/merge-patch+json"}) {
    http::Response response = SendTyped(type, R"({"name":"lenient"})");
    ASSERT_EQ(response.status, 200) << type << ": " << response.body;
    EXPECT_THAT(response.body, HasSubstr("lenient")) << type;
  }
}

TEST_F(JsonTranscoderTest, HeadersBecomeMetadataAndErrorsMapToHttp) {
  http::Response response =
      Send("GET", "/v1/files/x", "", {{"grpc-metadata-x-user", "ann"}, {"accept", "*/*"}});
  EXPECT_EQ(Parse(response.body).fields().at("served_by").string_value(), "ann");
  http::Response taken = Send("POST", "/v1/echo/rooms/fail:shout", "{}");
  EXPECT_EQ(taken.status, 409);
  EXPECT_EQ(taken.body, R"({"code":6,"message":"room taken","details":[]})");
}

// Error details come out as grpc-gateway renders them; RetryInfo also as Retry-After.
TEST_F(JsonTranscoderTest, ErrorDetailsAreRenderedLikeGrpcGateway) {
  http::Response bad = Send("POST", "/v1/echo/rooms/bad:shout", "{}");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body,
            R"({"code":3,"message":"two bad","details":[{"@type":"type.googleapis.com/)"
            R"(google.rpc.BadRequest","fieldViolations":[{"field":"a.b","description":"is )"
            R"(required"},{"field":"c[1]","description":"too big"}]}]})");
  http::Response busy = Send("POST", "/v1/echo/rooms/busy:shout", "{}");
  EXPECT_EQ(busy.status, 429);
  EXPECT_EQ(busy.body, R"({"code":8,"message":"busy","details":[{"@type":"type.googleapis.com/)"
                       R"(google.rpc.RetryInfo","retryDelay":"2.500s"}]})");
  ASSERT_FALSE(busy.headers.empty());
  EXPECT_EQ(busy.headers.at(0), std::make_pair(std::string("Retry-After"), std::string("3")))
      << "whole seconds, rounded up";
}

// What the path or the body set, a query parameter cannot change; a body cannot reach outside
// its field; reserved gRPC keys cannot be sent as metadata.
TEST_F(JsonTranscoderTest, EdgesCannotOverrideOrSmuggle) {
  http::Response path = Send("GET", "/v1/echo/rooms/9/messages/hello?message.text=evil");
  EXPECT_EQ(path.status, 400);
  EXPECT_THAT(path.body, HasSubstr("message.text: is set by the path"));
  EXPECT_EQ(Send("GET", "/v1/echo/rooms/9/messages/hello?name=rooms/other").status, 400);
  EXPECT_EQ(Send("GET", "/v1/echo/rooms/9/messages/hello?message=x").status, 400);

  http::Response injected = Send("POST", "/v1/echo/rooms/1:shout", R"({"text":"a"}, "loud": true)");
  EXPECT_EQ(injected.status, 400) << injected.body;
  EXPECT_THAT(Send("POST", "/v1/echo/rooms/1:shout", R"({"text":"a","tags":["t"]})").body,
              HasSubstr(R"("text":"a")"));

  for (const char* reserved : {"grpc-metadata-grpc-timeout", "grpc-metadata-grpc-status",
                               "grpc-metadata-content-type", "grpc-metadata-te"}) {
    EXPECT_EQ(Send("GET", "/v1/files/x", "", {{reserved, "1"}}).status, 400) << reserved;
  }
  EXPECT_EQ(Send("GET", "/v1/files/x", "", {{"grpc-metadata-x-user", "ann"}}).status, 200);
}

TEST_F(JsonTranscoderTest, BadRequestsAreRejectedBeforeTheCall) {
  EXPECT_EQ(Send("GET", "/v1/unknown").status, -1) << "not ours: the caller answers 404";
  http::Response wrong = Send("DELETE", "/v1/echo-all");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers.at(0).first, "Allow");
  EXPECT_EQ(wrong.headers.at(0).second, "PUT");
  EXPECT_EQ(Send("PUT", "/v1/echo-all", "{").status, 400);
  EXPECT_THAT(Send("PUT", "/v1/echo-all", R"({"nope":1})").body, HasSubstr("nope"));
  EXPECT_THAT(Send("GET", "/v1/files/x?numbers=abc").body, HasSubstr("numbers"));
  EXPECT_THAT(Send("GET", "/v1/files/x?color=PURPLE").body, HasSubstr("color"));
  EXPECT_THAT(Send("GET", "/v1/files/x?message=1").body, HasSubstr("message"));
  EXPECT_EQ(Send("GET", "/v1/files/x?a=%zz").status, 400);
  EXPECT_EQ(SendTyped("text/plain", "x").status, 415) << "not JSON, and not said to be";
  EXPECT_EQ(SendTyped("application/x-www-form-urlencoded", "name=n").status, 415);
  EXPECT_EQ(SendTyped("application/xml", R"({"name":"n"})").status, 415);
  EXPECT_EQ(Send("GET", "/v1/files/x", "", {{"grpc-metadata-bad key", "v"}}).status, 400);
}

}  // namespace
}  // namespace booking::rest
