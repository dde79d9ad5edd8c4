// A server-streaming RPC (WatchTickets, on a fake the test drives) rendered for HTTP by
// GatewayStream, its pieces pulled as the HTTP server pulls them.
#include "rest/gateway_stream.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_booking_service.h"
#include "tests/support/awaited.h"

namespace booking::rest {
namespace {

using tickets::v1::TicketStep;
using Format = GatewayStream::Format;
using Piece = testing::Awaited<absl::StatusOr<std::string>>;

constexpr char kWatch[] = "/tickets.v1.BookingService/WatchTickets";

TicketStep Step(TicketStep::Kind kind, const std::string& resume_token) {
  TicketStep step;
  step.set_ticket_id("t1");
  step.set_kind(kind);
  step.set_resume_token(resume_token);
  return step;
}

std::string HeaderOf(const http::Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "(none)";
}

class GatewayStreamTest : public ::testing::Test {
 protected:
  GatewayStreamTest() {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ =
        std::make_unique<grpc::GenericStub>(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  ~GatewayStreamTest() override {
    // The tests' bodies are gone, which cancels their calls: the fake finishes them all.
    EXPECT_TRUE(service_.AwaitWatchesDone());
    server_->Shutdown();
  }

  // Starts a WatchTickets call for `ticket_id`; its HTTP answer comes later.
  std::shared_ptr<testing::Awaited<http::Response>> Start(
      Format format, const std::string& ticket_id = "t1",
      absl::Duration heartbeat = absl::Seconds(30)) {
    tickets::v1::WatchTicketsRequest request;
    request.add_ticket_ids(ticket_id);
    auto answer = std::make_shared<testing::Awaited<http::Response>>();
    GatewayStream::Start(*stub_, kWatch, std::make_unique<grpc::ClientContext>(),
                         request.SerializeAsString(), TicketStep::descriptor(),
                         {.format = format, .heartbeat = heartbeat, .clock = &clock_},
                         [answer](http::Response response) { answer->Set(std::move(response)); });
    return answer;
  }

  // The HTTP answer (status -1 if none came within the bound).
  static http::Response Answer(testing::Awaited<http::Response>& answer) {
    std::optional<http::Response> response = answer.Take();
    EXPECT_TRUE(response.has_value()) << "no HTTP answer";
    if (!response.has_value()) response.emplace().status = -1;
    return *std::move(response);
  }

  http::Response Open(Format format, absl::Duration heartbeat = absl::Seconds(30)) {
    return Answer(*Start(format, "t1", heartbeat));
  }

  // Asks for the next piece, as the HTTP server does once the previous one is written.
  static std::shared_ptr<Piece> Ask(http::BodyStream& body) {
    auto piece = std::make_shared<Piece>();
    body.Next([piece](absl::StatusOr<std::string> p) { piece->Set(std::move(p)); });
    return piece;
  }

  static absl::StatusOr<std::string> Pull(http::BodyStream& body) {
    std::optional<absl::StatusOr<std::string>> piece = Ask(body)->Take();
    if (!piece.has_value()) return absl::DeadlineExceededError("no piece within the bound");
    return *std::move(piece);
  }

  // Stream clock first: it must outlive the calls.
  GatewayStream::Clock clock_{absl::Milliseconds(10)};
  testing::FakeBookingService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::GenericStub> stub_;
};

TEST_F(GatewayStreamTest, NdjsonIsOneResultLinePerMessage) {
  http::Response response = Open(Format::kNdjson);
  ASSERT_EQ(response.status, 200) << response.body;
  ASSERT_NE(response.stream, nullptr);
  EXPECT_EQ(HeaderOf(response, "Content-Type"), "application/x-ndjson");
  EXPECT_EQ(HeaderOf(response, "Cache-Control"), "no-cache");
  EXPECT_EQ(HeaderOf(response, "Correlation-ID"), "watch-correlation") << "the server's id";
  std::shared_ptr<testing::FakeBookingService::Watch> watch = service_.AwaitWatch();
  ASSERT_NE(watch, nullptr);
  ASSERT_EQ(watch->request().ticket_ids_size(), 1);
  EXPECT_EQ(watch->request().ticket_ids(0), "t1");

  watch->Send(Step(TicketStep::ACCEPTED, "r1"));
  watch->Send(Step(TicketStep::STORED, "r2"));
  watch->Finish(grpc::Status::OK);
  EXPECT_EQ(Pull(*response.stream).value_or("(error)"),
            "{\"result\":{\"ticket_id\":\"t1\",\"kind\":\"ACCEPTED\",\"resume_token\":\"r1\"}}\n");
  EXPECT_EQ(Pull(*response.stream).value_or("(error)"),
            "{\"result\":{\"ticket_id\":\"t1\",\"kind\":\"STORED\",\"resume_token\":\"r2\"}}\n");
  EXPECT_EQ(Pull(*response.stream).value_or("(error)"), "") << "the end";
}

TEST_F(GatewayStreamTest, SseEventsCarryTheResumeTokenAsTheirId) {
  http::Response response = Open(Format::kSse);
  ASSERT_EQ(response.status, 200) << response.body;
  ASSERT_NE(response.stream, nullptr);
  EXPECT_EQ(HeaderOf(response, "Content-Type"), "text/event-stream");
  std::shared_ptr<testing::FakeBookingService::Watch> watch = service_.AwaitWatch();
  ASSERT_NE(watch, nullptr);

  watch->Send(Step(TicketStep::ACCEPTED, "r1"));
  watch->Send(Step(TicketStep::STORED, ""));
  watch->Send(Step(TicketStep::HANDLED, "r\n3"));
  watch->Finish(grpc::Status::OK);
  EXPECT_EQ(
      Pull(*response.stream).value_or("(error)"),
      "id: r1\ndata: {\"ticket_id\":\"t1\",\"kind\":\"ACCEPTED\",\"resume_token\":\"r1\"}\n\n");
  EXPECT_EQ(Pull(*response.stream).value_or("(error)"),
            "data: {\"ticket_id\":\"t1\",\"kind\":\"STORED\"}\n\n")
      << "no token, no id";
  EXPECT_EQ(
      Pull(*response.stream).value_or("(error)"),
      "id: r3\ndata: {\"ticket_id\":\"t1\",\"kind\":\"HANDLED\",\"resume_token\":\"r\\n3\"}\n\n")
      << "a line break in the id would end the frame early";
  EXPECT_EQ(Pull(*response.stream).value_or("(error)"), "");
}

// After `heartbeat` with nothing to say, a piece the client ignores (and whose write finds a
// client that went away); the message that comes later still arrives.
TEST_F(GatewayStreamTest, HeartbeatAfterSilence) {
  const absl::Duration heartbeat = absl::Milliseconds(200);
  for (const auto& [format, expected] : std::vector<std::pair<Format, std::string>>{
           {Format::kNdjson, "\n"}, {Format::kSse, ": heartbeat\n\n"}}) {
    http::Response response = Open(format, heartbeat);
    ASSERT_EQ(response.status, 200) << response.body;
    ASSERT_NE(response.stream, nullptr);
    std::shared_ptr<testing::FakeBookingService::Watch> watch = service_.AwaitWatch();
    ASSERT_NE(watch, nullptr);
    const absl::Time asked = absl::Now();
    EXPECT_EQ(Pull(*response.stream).value_or("(error)"), expected);
    EXPECT_GE(absl::Now() - asked, heartbeat) << "not before the silence lasted";
    watch->Send(Step(TicketStep::ACCEPTED, ""));
    absl::StatusOr<std::string> message = Pull(*response.stream);
    ASSERT_TRUE(message.ok()) << message.status();
    EXPECT_THAT(*message, ::testing::HasSubstr("ACCEPTED"));
  }
}

TEST_F(GatewayStreamTest, ErrorMidStreamIsTheLastPiece) {
  const grpc::Status behind(grpc::StatusCode::RESOURCE_EXHAUSTED, "too far behind; resume");
  for (const auto& [format, expected] : std::vector<std::pair<Format, std::string>>{
           {Format::kNdjson,
            "{\"error\":{\"code\":8,\"message\":\"too far behind; resume\",\"details\":[]}}\n"},
           {Format::kSse,
            "event: error\ndata: {\"code\":8,\"message\":\"too far behind; resume\","
            "\"details\":[]}\n\n"}}) {
    http::Response response = Open(format);
    ASSERT_EQ(response.status, 200) << response.body;
    ASSERT_NE(response.stream, nullptr);
    std::shared_ptr<testing::FakeBookingService::Watch> watch = service_.AwaitWatch();
    ASSERT_NE(watch, nullptr);
    watch->Send(Step(TicketStep::ACCEPTED, "r1"));
    watch->Finish(behind);
    absl::StatusOr<std::string> first = Pull(*response.stream);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_THAT(*first, ::testing::HasSubstr("ACCEPTED"));
    EXPECT_EQ(Pull(*response.stream).value_or("(error)"), expected);
    EXPECT_EQ(Pull(*response.stream).value_or("(error)"), "")
        << "the body ends whole: the error is its content";
  }
}

// Refused before it began: the HTTP status says so, there is no body stream.
TEST_F(GatewayStreamTest, RefusedCallIsAnHttpError) {
  http::Response response = Answer(*Start(Format::kNdjson, "refuse"));
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(response.stream, nullptr);
  EXPECT_EQ(response.body, R"({"code":7,"message":"watch refused","details":[]})");
}

// A stream that ends before saying anything is still a 200 (an empty body), not an error.
TEST_F(GatewayStreamTest, EmptyStreamIsA200WithAnEmptyBody) {
  std::shared_ptr<testing::Awaited<http::Response>> answer = Start(Format::kNdjson);
  std::shared_ptr<testing::FakeBookingService::Watch> watch = service_.AwaitWatch();
  ASSERT_NE(watch, nullptr);
  watch->Finish(grpc::Status::OK);
  http::Response response = Answer(*answer);
  ASSERT_EQ(response.status, 200) << response.body;
  ASSERT_NE(response.stream, nullptr);
  EXPECT_EQ(Pull(*response.stream).value_or("(error)"), "");
}

// The HTTP client went away while a Next waits: the gRPC call is canceled (the service sees it)
// and the waiting Next gets the end, so the HTTP side lets go.
TEST_F(GatewayStreamTest, AbandonCancelsTheCallOnTheServer) {
  http::Response response = Open(Format::kSse);
  ASSERT_EQ(response.status, 200) << response.body;
  ASSERT_NE(response.stream, nullptr);
  std::shared_ptr<testing::FakeBookingService::Watch> watch = service_.AwaitWatch();
  ASSERT_NE(watch, nullptr);
  watch->Send(Step(TicketStep::ACCEPTED, "r1"));
  ASSERT_TRUE(Pull(*response.stream).ok());
  std::shared_ptr<Piece> waiting = Ask(*response.stream);
  EXPECT_FALSE(watch->cancelled());

  response.stream->Abandon();
  EXPECT_TRUE(watch->AwaitCancelled());
  std::optional<absl::StatusOr<std::string>> end = waiting->Take();
  ASSERT_TRUE(end.has_value()) << "the waiting Next was answered";
  EXPECT_EQ(end->value_or("(error)"), "") << "canceled by us: no error piece";
}

TEST_F(GatewayStreamTest, DroppingTheBodyCancelsTheCall) {
  http::Response response = Open(Format::kNdjson);
  ASSERT_NE(response.stream, nullptr);
  std::shared_ptr<testing::FakeBookingService::Watch> watch = service_.AwaitWatch();
  ASSERT_NE(watch, nullptr);
  response.stream.reset();
  EXPECT_TRUE(watch->AwaitCancelled());
}

}  // namespace
}  // namespace booking::rest
