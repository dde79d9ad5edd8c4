// GET /tickets' body against a paging ListTickets fake on an in-process gRPC server, pulled
// piece by piece as the HTTP server pulls it.
#include "rest/ticket_list_stream.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_booking_service.h"
#include "tests/support/awaited.h"

namespace booking::rest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeTicket;

class TicketListStreamTest : public ::testing::Test {
 protected:
  TicketListStreamTest() {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ =
        tickets::v1::BookingService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  ~TicketListStreamTest() override { server_->Shutdown(); }

  // Start's answer (status -1 if none came within the bound).
  http::Response Open(int page_size, TicketListStream::Metadata metadata = {}) {
    auto answer = std::make_shared<testing::Awaited<http::Response>>();
    TicketListStream::Start(
        stub_, std::move(metadata), page_size,
        [answer](http::Response response) { answer->Set(std::move(response)); });
    std::optional<http::Response> response = answer->Take();
    EXPECT_TRUE(response.has_value()) << "no answer from Start";
    if (!response.has_value()) response.emplace().status = -1;
    return *std::move(response);
  }

  // The next piece, asked for as the HTTP server asks: once the previous one is written.
  static absl::StatusOr<std::string> Pull(http::BodyStream& body) {
    auto piece = std::make_shared<testing::Awaited<absl::StatusOr<std::string>>>();
    body.Next([piece](absl::StatusOr<std::string> p) { piece->Set(std::move(p)); });
    std::optional<absl::StatusOr<std::string>> got = piece->Take();
    if (!got.has_value()) return absl::DeadlineExceededError("no piece within the bound");
    return *std::move(got);
  }

  // Every piece up to the end (the empty one, not included), or the first error.
  static absl::StatusOr<std::vector<std::string>> PullAll(http::BodyStream& body) {
    std::vector<std::string> pieces;
    for (int i = 0; i < 100; ++i) {
      absl::StatusOr<std::string> piece = Pull(body);
      if (!piece.ok()) return piece.status();
      if (piece->empty()) return pieces;
      pieces.push_back(*std::move(piece));
    }
    return absl::InternalError("no end after 100 pieces");
  }

  // The ticket ids of a JSON array of tickets; fails the test if it is not valid JSON.
  static std::vector<std::string> Ids(const std::string& json) {
    google::protobuf::ListValue list;
    const auto parsed = google::protobuf::util::JsonStringToMessage(json, &list);
    EXPECT_TRUE(parsed.ok()) << parsed << ": " << json;
    std::vector<std::string> ids;
    for (const auto& value : list.values()) {
      ids.push_back(value.struct_value().fields().at("ticket_id").string_value());
    }
    return ids;
  }

  testing::FakeBookingService service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<tickets::v1::BookingService::Stub> stub_;
};

TEST_F(TicketListStreamTest, PagesMakeOneJsonArrayFetchedOneAtATime) {
  service_.SetPages({{MakeTicket("t1"), MakeTicket("t2")},
                     {MakeTicket("t3"), MakeTicket("t4")},
                     {MakeTicket("t5")}});
  http::Response response = Open(2, {{"authorization", "Bearer reader"}});
  ASSERT_EQ(response.status, 200) << response.body;
  ASSERT_NE(response.stream, nullptr);
  EXPECT_EQ(service_.list_calls().size(), 1u) << "the first page, read before the 200";

  // Memory stays at a page: the next page is asked for only when the HTTP side wants more.
  std::vector<std::string> pieces;
  for (size_t page = 1; page <= 3; ++page) {
    absl::StatusOr<std::string> piece = Pull(*response.stream);
    ASSERT_TRUE(piece.ok()) << piece.status();
    pieces.push_back(*piece);
    EXPECT_EQ(service_.list_calls().size(), page);
  }
  absl::StatusOr<std::string> end = Pull(*response.stream);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(*end, "") << "the end";
  EXPECT_EQ(pieces[0],
            R"([{"ticket_id":"t1","customer_email":"ann@example.com","price":{"amount":"49.90",)"
            R"("currency":"EUR"},"status":"confirmed"},{"ticket_id":"t2",)"
            R"("customer_email":"ann@example.com","price":{"amount":"49.90","currency":"EUR"},)"
            R"("status":"confirmed"})")
      << "proto field names, as the rest of the REST API";
  EXPECT_THAT(Ids(absl::StrJoin(pieces, "")), ElementsAre("t1", "t2", "t3", "t4", "t5"));

  std::vector<std::string> tokens;
  for (const auto& call : service_.list_calls()) {
    tokens.push_back(call.page_token);
    EXPECT_EQ(call.page_size, 2);
    EXPECT_EQ(call.authorization, "Bearer reader") << "every page carries the caller's token";
  }
  EXPECT_THAT(tokens, ElementsAre("", "page-1", "page-2"));
}

TEST_F(TicketListStreamTest, NoTicketsIsAnEmptyArray) {
  http::Response response = Open(10);
  ASSERT_EQ(response.status, 200);
  ASSERT_NE(response.stream, nullptr);
  absl::StatusOr<std::vector<std::string>> pieces = PullAll(*response.stream);
  ASSERT_TRUE(pieces.ok()) << pieces.status();
  EXPECT_THAT(*pieces, ElementsAre("[]"));
}

// An empty page that still names a next one (every ticket on it was canceled meanwhile) adds
// nothing: the stream asks for the next page instead of sending an empty piece, which the HTTP
// server would take for the end.
TEST_F(TicketListStreamTest, EmptyPageWithMoreToComeIsSkipped) {
  service_.SetPages({{MakeTicket("t1")}, {}, {}, {MakeTicket("t2")}});
  http::Response response = Open(1);
  ASSERT_EQ(response.status, 200);
  ASSERT_NE(response.stream, nullptr);
  absl::StatusOr<std::vector<std::string>> pieces = PullAll(*response.stream);
  ASSERT_TRUE(pieces.ok()) << pieces.status();
  EXPECT_EQ(pieces->size(), 2u);
  EXPECT_THAT(Ids(absl::StrJoin(*pieces, "")), ElementsAre("t1", "t2"));
  EXPECT_EQ(service_.list_calls().size(), 4u);
}

// Nothing is sent before the first page is read, so its error can still be the HTTP status.
TEST_F(TicketListStreamTest, FirstPageErrorIsAnHttpError) {
  service_.FailPage(0, grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "a token is required"));
  http::Response response = Open(10);
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.stream, nullptr);
  EXPECT_EQ(response.body, R"({"code":16,"message":"a token is required","details":[]})");
}

// Once the 200 is out, a failing page can only cut the body (the server then sends no last
// chunk): the error ends the stream and no further page is asked for.
TEST_F(TicketListStreamTest, LaterPageErrorCutsTheBody) {
  service_.SetPages({{MakeTicket("t1")}, {MakeTicket("t2")}, {MakeTicket("t3")}});
  service_.FailPage(1, grpc::Status(grpc::StatusCode::UNAVAILABLE, "database unreachable"));
  http::Response response = Open(1);
  ASSERT_EQ(response.status, 200);
  ASSERT_NE(response.stream, nullptr);
  absl::StatusOr<std::string> first = Pull(*response.stream);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(*first, HasSubstr(R"("ticket_id":"t1")"));
  absl::StatusOr<std::string> failed = Pull(*response.stream);
  EXPECT_TRUE(absl::IsUnavailable(failed.status())) << failed.status();
  EXPECT_EQ(failed.status().message(), "database unreachable");
  EXPECT_EQ(service_.list_calls().size(), 2u);
}

// A ticket the JSON printer refuses (here a timestamp past year 9999) is left out, and the
// array around it must stay valid JSON wherever it was: first, between others, or last.
TEST_F(TicketListStreamTest, TicketThatCannotBePrintedIsLeftOutOfAValidArray) {
  auto unprintable = [](const std::string& id) {
    tickets::v1::Ticket ticket = MakeTicket(id);
    ticket.mutable_updated_at()->set_seconds(300'000'000'000);
    return ticket;
  };
  service_.SetPages({{unprintable("bad1"), MakeTicket("t1"), unprintable("bad2"), MakeTicket("t2")},
                     {MakeTicket("t3"), unprintable("bad3")}});
  http::Response response = Open(4);
  ASSERT_EQ(response.status, 200);
  ASSERT_NE(response.stream, nullptr);
  absl::StatusOr<std::vector<std::string>> pieces = PullAll(*response.stream);
  ASSERT_TRUE(pieces.ok()) << pieces.status();
  EXPECT_THAT(Ids(absl::StrJoin(*pieces, "")), ElementsAre("t1", "t2", "t3"));
}

}  // namespace
}  // namespace booking::rest
