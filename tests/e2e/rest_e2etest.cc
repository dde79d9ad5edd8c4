// The REST gateway over real HTTP (libcurl and a raw socket), against the real binary.
#include <arpa/inet.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/booking_server.h"
#include "tests/support/eventually.h"
#include "tests/support/http_call.h"
#include "tests/support/test_database.h"

namespace booking::e2e {
namespace {

using ::testing::HasSubstr;

google::protobuf::Value Json(const std::string& text) {
  google::protobuf::Value value;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &value).ok()) << text;
  return value;
}

class RestE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new testing::TestDatabase();
    server_ = testing::BookingServer::Start(db_->url(), {"--max_http_body_bytes=65536"}).release();
  }
  static void TearDownTestSuite() {
    delete server_;  // checks the graceful stop
    delete db_;
  }
  static std::string Url(const std::string& path) { return server_->url(path); }
  bool Eventually(const std::function<bool()>& probe) {
    return testing::Eventually(probe, absl::Seconds(30));
  }
  static void ExpectError(const testing::HttpResult& result, long status, int code,
                          const std::string& message_part) {
    EXPECT_EQ(result.status, status) << result.body;
    EXPECT_EQ(result.headers.at("content-type"), "application/json");
    google::protobuf::Value error = Json(result.body);
    EXPECT_EQ(error.struct_value().fields().at("code").number_value(), code) << result.body;
    EXPECT_THAT(error.struct_value().fields().at("message").string_value(),
                HasSubstr(message_part));
    EXPECT_TRUE(error.struct_value().fields().at("details").has_list_value());
    // Every INVALID_ARGUMENT names its field in a google.rpc.BadRequest, the gateway's own too.
    if (code == 3) EXPECT_THAT(result.body, HasSubstr("google.rpc.BadRequest")) << result.body;
  }

  static testing::TestDatabase* db_;
  static testing::BookingServer* server_;
  testing::HttpCaller http_;
};

testing::TestDatabase* RestE2eTest::db_ = nullptr;
testing::BookingServer* RestE2eTest::server_ = nullptr;

constexpr char kJson[] = "Content-Type: application/json";

TEST_F(RestE2eTest, OriginalTicketsApiIsCompatible) {
  const std::string body =
      R"({"tickets":[{"ticket_id":"9a000000-0000-4000-8000-000000000001","status":"confirmed",)"
      R"("customer_email":"ann@example.com","price":{"amount":"50.30","currency":"EUR"}},)"
      R"({"ticket_id":"9a000000-0000-4000-8000-000000000002","status":"confirmed",)"
      R"("customer_email":"bob@example.com","price":{"amount":"10","currency":"USD"}}]})";
  testing::HttpResult posted =
      http_.Call("POST", Url("/tickets-status"), body, {kJson, "Idempotency-Key: compat-1"});
  ASSERT_EQ(posted.status, 200) << posted.body;
  ASSERT_TRUE(Eventually([&] { return db_->Count("tickets") >= 2; }));

  const std::string cancel =
      R"({"tickets":[{"ticket_id":"9a000000-0000-4000-8000-000000000002","status":"canceled",)"
      R"("customer_email":"bob@example.com","price":{"amount":"10","currency":"USD"}}]})";
  ASSERT_EQ(http_.Call("POST", Url("/tickets-status"), cancel, {kJson, "Idempotency-Key: compat-2"})
                .status,
            200);
  ASSERT_TRUE(Eventually([&] { return db_->Count("tickets WHERE status = 'canceled'") == 1; }));

  // The original list answers every ticket: a page parameter it would ignore is refused.
  ExpectError(http_.Call("GET", Url("/tickets?page_size=1")), 400, 3, "page_size: GET /tickets");
  testing::HttpResult listed = http_.Call("GET", Url("/tickets"));
  ASSERT_EQ(listed.status, 200);
  google::protobuf::Value tickets = Json(listed.body);
  ASSERT_TRUE(tickets.has_list_value()) << "a bare JSON array: " << listed.body;
  std::vector<std::string> ids;
  for (const auto& ticket : tickets.list_value().values()) {
    const auto& fields = ticket.struct_value().fields();
    ids.push_back(fields.at("ticket_id").string_value());
    if (ids.back() == "9a000000-0000-4000-8000-000000000001") {
      EXPECT_EQ(fields.at("customer_email").string_value(), "ann@example.com");
      const auto& price = fields.at("price").struct_value().fields();
      EXPECT_EQ(price.at("amount").string_value(), "50.30");
      EXPECT_EQ(price.at("currency").string_value(), "EUR");
    }
  }
  EXPECT_THAT(ids, ::testing::Contains("9a000000-0000-4000-8000-000000000001"));
  EXPECT_THAT(ids, ::testing::Not(::testing::Contains("9a000000-0000-4000-8000-000000000002")));

  testing::HttpResult no_key = http_.Call("POST", Url("/tickets-status"), body, {kJson});
  ExpectError(no_key, 400, 3, "idempotency_key");
}

// `curl -d BODY URL` sends application/x-www-form-urlencoded (libcurl's default for a POST body,
// as here); "Content-Type:" with no value makes libcurl send no type at all. Both are read as
// JSON, as grpc-gateway and Envoy's transcoder do.
TEST_F(RestE2eTest, JsonBodyWithoutJsonContentTypeStoresTheTicket) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"9a100000-0000-4000-8000-000000000001", {"Idempotency-Key: lenient-form"}},
      {"9a100000-0000-4000-8000-000000000002", {"Content-Type:", "Idempotency-Key: lenient-none"}},
      {"9a100000-0000-4000-8000-000000000003",
       {"Content-Type: text/plain", "Idempotency-Key: lenient-text"}}};
  for (const auto& [id, headers] : cases) {
    const std::string body = absl::StrCat(R"({"tickets":[{"ticket_id":")", id,
                                          R"(","status":"confirmed",)"
                                          R"("customer_email":"cd@example.com",)"
                                          R"("price":{"amount":"5.00","currency":"EUR"}}]})");
    testing::HttpResult posted = http_.Call("POST", Url("/tickets-status"), body, headers);
    ASSERT_EQ(posted.status, 200) << headers[0] << ": " << posted.body;
    EXPECT_TRUE(Eventually([&] {
      return db_->Count(absl::StrCat("tickets WHERE ticket_id = '", id, "'")) == 1;
    })) << headers[0];
  }
}

TEST_F(RestE2eTest, EveryAnnotatedRoute) {
  // lowerCamelCase names are accepted too; the correlation id comes back as a header.
  const std::string body =
      R"({"tickets":[{"ticketId":"9b000000-0000-4000-8000-000000000001","status":"confirmed",)"
      R"("customerEmail":"cy@example.com","price":{"amount":"1.50","currency":"GBP"}}],)"
      R"("idempotencyKey":"v1-route"})";
  testing::HttpResult posted =
      http_.Call("POST", Url("/v1/tickets-status"), body, {kJson, "Correlation-ID: rest-corr-1"});
  ASSERT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(posted.headers["correlation-id"], "rest-corr-1");
  EXPECT_EQ(Json(posted.body).struct_value().fields().at("accepted_events").number_value(), 1);
  ASSERT_TRUE(Eventually([&] {
    return http_.Call("GET", Url("/v1/tickets/9b000000-0000-4000-8000-000000000001")).status == 200;
  }));
  testing::HttpResult got =
      http_.Call("GET", Url("/v1/tickets/9b000000-0000-4000-8000-000000000001"));
  EXPECT_EQ(Json(got.body).struct_value().fields().at("status").string_value(), "confirmed");
  ExpectError(http_.Call("GET", Url("/v1/tickets/9b000000-0000-4000-8000-00000000ffff")), 404, 5,
              "not found");
  ExpectError(http_.Call("GET", Url("/v1/tickets/not-a-uuid")), 400, 3, "ticket_id");

  testing::HttpResult page = http_.Call("GET", Url("/v1/tickets?page_size=1"));
  ASSERT_EQ(page.status, 200) << page.body;
  const google::protobuf::Value page_json = Json(page.body);
  const auto& fields = page_json.struct_value().fields();
  EXPECT_EQ(fields.at("tickets").list_value().values_size(), 1);
  ExpectError(http_.Call("GET", Url("/v1/tickets?page_size=many")), 400, 3, "page_size");
  ExpectError(http_.Call("GET", Url("/v1/tickets?no_such=1")), 400, 3, "no_such");

  testing::HttpResult dead = http_.Call("GET", Url("/v1/admin/dead-letters"));
  EXPECT_EQ(dead.status, 200) << dead.body;
  testing::HttpResult retried =
      http_.Call("POST", Url("/v1/admin/dead-letters:retry"), R"({"all":true})", {kJson});
  EXPECT_EQ(retried.status, 200) << retried.body;
  // A zero that means something is printed: nothing was retried, not "{}".
  EXPECT_EQ(Json(retried.body).struct_value().fields().at("retried").number_value(), 0)
      << retried.body;
  // Grpc-Metadata-* headers become metadata.
  testing::HttpResult via_metadata =
      http_.Call("POST", Url("/v1/tickets-status"), body,
                 {kJson, "Grpc-Metadata-Correlation-Id: rest-corr-2"});
  EXPECT_EQ(via_metadata.headers["correlation-id"], "rest-corr-2");
}

TEST_F(RestE2eTest, EveryErrorClassHasAJsonBody) {
  ExpectError(http_.Call("GET", Url("/nowhere")), 404, 5, "no route");
  testing::HttpResult wrong_method = http_.Call("DELETE", Url("/v1/tickets"));
  ExpectError(wrong_method, 405, 12, "not allowed");
  EXPECT_EQ(wrong_method.headers["allow"], "GET");
  ExpectError(
      http_.Call("POST", Url("/v1/tickets-status"), "{not json", {kJson, "Idempotency-Key: k"}),
      400, 3, "body");
  ExpectError(http_.Call("POST", Url("/v1/tickets-status"), std::string(70000, ' '),
                         {kJson, "Idempotency-Key: k"}),
              413, 8, "too large");
  ExpectError(http_.Call("POST", Url("/v1/tickets-status"), "tickets=1",
                         {"Content-Type: text/plain", "Idempotency-Key: k"}),
              415, 3, "Content-Type");
  const std::string bad_currency =
      R"({"tickets":[{"ticket_id":"9c000000-0000-4000-8000-000000000001","status":"confirmed",)"
      R"("customer_email":"x@example.com","price":{"amount":"1.00","currency":"eur"}}]})";
  ExpectError(http_.Call("POST", Url("/v1/tickets-status"), bad_currency,
                         {kJson, "Idempotency-Key: bad-currency"}),
              400, 3, "tickets[0].price.currency");
}

TEST_F(RestE2eTest, ThreeBadFieldsGiveThreeFieldViolations) {
  const std::string body =
      R"({"tickets":[{"ticket_id":"9c100000-0000-4000-8000-000000000001","status":"confirmed",)"
      R"("customer_email":"nobody","price":{"amount":"1.00","currency":"eur"}},)"
      R"({"ticket_id":"9c100000-0000-4000-8000-000000000002","status":"lost",)"
      R"("customer_email":"x@example.com","price":{"amount":"1.00","currency":"EUR"}}]})";
  testing::HttpResult result = http_.Call("POST", Url("/v1/tickets-status"), body,
                                          {kJson, "Idempotency-Key: rest-three-bad"});
  ExpectError(result, 400, 3, "tickets[0].customer_email");
  const google::protobuf::Value error = Json(result.body);
  const auto& details = error.struct_value().fields().at("details").list_value();
  ASSERT_EQ(details.values_size(), 1) << result.body;
  const auto& detail = details.values(0).struct_value().fields();
  EXPECT_EQ(detail.at("@type").string_value(), "type.googleapis.com/google.rpc.BadRequest");
  std::vector<std::string> fields;
  for (const auto& violation : detail.at("fieldViolations").list_value().values()) {
    fields.push_back(violation.struct_value().fields().at("field").string_value());
  }
  EXPECT_THAT(fields, ::testing::ElementsAre("tickets[0].customer_email",
                                             "tickets[0].price.currency", "tickets[1].status"));
  EXPECT_EQ(db_->Count("tickets WHERE ticket_id::text LIKE '9c100000%'"), 0);
}

TEST_F(RestE2eTest, ReplayGetsTheFirstAnswerAndAReusedKeyIs422) {
  auto body = [](const std::string& status) {
    return absl::StrCat(
        R"({"tickets":[{"ticket_id":"9d100000-0000-4000-8000-000000000001","status":")", status,
        R"(","customer_email":"ann@example.com","price":{"amount":"50.30","currency":"EUR"}}]})");
  };
  testing::HttpResult first = http_.Call("POST", Url("/tickets-status"), body("confirmed"),
                                         {kJson, "Idempotency-Key: rest-replay"});
  ASSERT_EQ(first.status, 200) << first.body;
  testing::HttpResult replay = http_.Call("POST", Url("/tickets-status"), body("confirmed"),
                                          {kJson, "Idempotency-Key: rest-replay"});
  EXPECT_EQ(replay.status, 200);
  EXPECT_EQ(replay.body, first.body) << "the first answer again";
  EXPECT_EQ(Json(replay.body).struct_value().fields().at("accepted_events").number_value(), 1);

  testing::HttpResult reused = http_.Call("POST", Url("/tickets-status"), body("canceled"),
                                          {kJson, "Idempotency-Key: rest-replay"});
  ExpectError(reused, 422, 9, "\"rest-replay\" was already used");
  EXPECT_THAT(reused.body,
              HasSubstr(R"("@type":"type.googleapis.com/google.rpc.PreconditionFailure")"));
  EXPECT_THAT(reused.body, HasSubstr(R"("type":"IDEMPOTENCY_KEY_REUSED")"));
  ASSERT_TRUE(Eventually([&] {
    return db_->Count("tickets WHERE ticket_id = '9d100000-0000-4000-8000-000000000001'") == 1;
  }));
  EXPECT_EQ(db_->Count("events WHERE idempotency_key LIKE 'rest-replay/%'"), 1);
  EXPECT_EQ(
      db_->QueryValue(
          "SELECT status FROM tickets WHERE ticket_id = '9d100000-0000-4000-8000-000000000001'"),
      "confirmed");
}

TEST_F(RestE2eTest, ConcurrentCallsWithOneKeyPublishOnce) {
  constexpr int kClients = 32;
  const std::string body =
      R"({"tickets":[{"ticket_id":"9d200000-0000-4000-8000-000000000001","status":"confirmed",)"
      R"("customer_email":"ann@example.com","price":{"amount":"1.00","currency":"EUR"}},)"
      R"({"ticket_id":"9d200000-0000-4000-8000-000000000002","status":"confirmed",)"
      R"("customer_email":"bob@example.com","price":{"amount":"2.00","currency":"EUR"}}]})";
  std::vector<testing::HttpResult> results(kClients);
  std::vector<std::thread> clients;
  std::atomic<bool> go{false};
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      testing::HttpCaller http;  // a connection each
      while (!go.load()) std::this_thread::yield();
      results[i] = http.Call("POST", Url("/v1/tickets-status"), body,
                             {kJson, "Idempotency-Key: rest-one-key-32"});
    });
  }
  go.store(true);
  for (std::thread& client : clients) client.join();
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(results[i].status, 200) << i << ": " << results[i].body;
    EXPECT_EQ(Json(results[i].body).struct_value().fields().at("accepted_events").number_value(), 2)
        << i;
  }
  EXPECT_EQ(db_->Count("events WHERE idempotency_key LIKE 'rest-one-key-32/%'"), 2);
}

// GET /tickets is the original API's whole list: 2,500 stored tickets (10 canceled), all of the
// others in one array, streamed in chunks page after page.
TEST_F(RestE2eTest, CompatibilityListReturnsEveryTicketStreamed) {
  constexpr int kCalls = 25, kPerCall = 100;
  auto ticket = [](int i, const char* status) {
    return absl::StrCat(
        R"({"ticket_id":"9e000000-0000-4000-8000-)", absl::Dec(i, absl::kZeroPad12),
        R"(","status":")", status,
        R"(","customer_email":"all@example.com","price":{"amount":"1.00","currency":"EUR"}})");
  };
  for (int call = 0; call < kCalls; ++call) {
    std::string body = R"({"tickets":[)";
    for (int k = 0; k < kPerCall; ++k) {
      if (k > 0) body += ",";
      body += ticket(call * kPerCall + k, "confirmed");
    }
    body += "]}";
    ASSERT_EQ(http_
                  .Call("POST", Url("/tickets-status"), body,
                        {kJson, absl::StrCat("Idempotency-Key: all-", call)})
                  .status,
              200);
  }
  std::string cancel = R"({"tickets":[)";
  for (int i = 0; i < 10; ++i) cancel += (i > 0 ? "," : "") + ticket(i * 7, "canceled");
  cancel += "]}";
  ASSERT_EQ(
      http_.Call("POST", Url("/tickets-status"), cancel, {kJson, "Idempotency-Key: all-cancel"})
          .status,
      200);
  const std::string mine = "tickets WHERE ticket_id::text LIKE '9e000000-%'";
  ASSERT_TRUE(Eventually([&] {
    return db_->Count(mine + " AND status = 'canceled'") == 10 && db_->Count(mine) == 2500;
  }));

  testing::HttpResult listed = http_.Call("GET", Url("/tickets"));
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.headers["transfer-encoding"], "chunked");
  google::protobuf::Value all = Json(listed.body);
  ASSERT_TRUE(all.has_list_value()) << listed.body.substr(0, 200);
  std::set<std::string> ids;
  for (const auto& item : all.list_value().values()) {
    const std::string id = item.struct_value().fields().at("ticket_id").string_value();
    if (id.rfind("9e000000-", 0) == 0) ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 2490u) << "every ticket not canceled, once";
  EXPECT_FALSE(ids.contains("9e000000-0000-4000-8000-000000000007")) << "canceled";
  EXPECT_EQ(static_cast<long long>(all.list_value().values_size()),
            db_->Count("tickets WHERE status <> 'canceled'"));
  EXPECT_EQ(http_.Call("GET", Url("/healthz")).status, 200) << "the connection goes on after it";
}

TEST_F(RestE2eTest, HealthAndOpenApi) {
  for (const char* path : {"/health", "/healthz"}) {
    testing::HttpResult health = http_.Call("GET", Url(path));
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(Json(health.body).struct_value().fields().at("status").string_value(), "SERVING");
  }
  testing::HttpResult openapi = http_.Call("GET", Url("/openapi.json"));
  ASSERT_EQ(openapi.status, 200);
  const google::protobuf::Value document = Json(openapi.body);
  const auto& paths = document.struct_value().fields().at("paths").struct_value().fields();
  EXPECT_TRUE(paths.contains("/tickets-status"));
  EXPECT_TRUE(paths.contains("/v1/tickets/{ticket_id}"));
  EXPECT_TRUE(paths.contains("/health"));
  EXPECT_TRUE(paths.contains("/metrics"));
  // The served document says what a write needs when tokens are on, and the header it takes.
  const auto& post =
      paths.at("/v1/tickets-status").struct_value().fields().at("post").struct_value();
  EXPECT_EQ(post.fields().at("x-booking-scope").string_value(), "write");
  // GET /tickets documents no query parameter (it takes none), GET /v1/tickets its pages.
  const auto text = [&](const std::string& path) {
    std::string json;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(
                    paths.at(path).struct_value().fields().at("get").struct_value(), &json)
                    .ok());
    return json;
  };
  EXPECT_THAT(text("/tickets"), ::testing::Not(HasSubstr("page_size")));
  EXPECT_THAT(text("/v1/tickets"), HasSubstr("page_size"));
  EXPECT_THAT(openapi.body, HasSubstr("\"Idempotency-Key\""));
}

TEST_F(RestE2eTest, KeepAliveReusesTheConnection) {
  testing::HttpResult first = http_.Call("GET", Url("/healthz"));
  ASSERT_EQ(first.status, 200);
  for (int i = 0; i < 5; ++i) {
    testing::HttpResult next = http_.Call("GET", Url("/v1/tickets?page_size=1"));
    EXPECT_EQ(next.status, 200);
    EXPECT_EQ(next.new_connections, 0) << "call " << i << " opened a new connection";
  }
}

// Two requests written back to back before reading: two answers, in order.
TEST_F(RestE2eTest, PipelinedRequestsAreAnsweredInOrder) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(server_->http_port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  const std::string requests =
      "GET /v1/tickets/9d000000-0000-4000-8000-000000000001 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(write(fd, requests.data(), requests.size()), static_cast<ssize_t>(requests.size()));
  std::string received;
  char buffer[4096];
  for (int i = 0; i < 100; ++i) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    received.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  const size_t first = received.find("HTTP/1.1 404");
  const size_t second = received.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos) << received;
  ASSERT_NE(second, std::string::npos) << received;
  EXPECT_LT(first, second) << "answers keep the order of the requests";
  EXPECT_THAT(received, HasSubstr("SERVING"));
}

}  // namespace
}  // namespace booking::e2e
