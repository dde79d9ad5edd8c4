// HttpClient (one libcurl multi event loop) and the two HTTP APIs against the fake services, over
// real sockets.
#include "clients/http_client.h"

#include <arpa/inet.h>
#include <google/protobuf/util/json_util.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/http_receipts_api.h"
#include "clients/http_spreadsheets_api.h"
#include "domain/handler.h"
#include "external/v1/receipts.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/metrics.h"
#include "tests/fakes/fake_external_apis.h"
#include "tests/support/eventually.h"
#include "tests/support/server_process.h"

namespace booking::clients {
namespace {

using ::testing::ElementsAre;
using testing::Eventually;
using testing::FakeExternalApis;
using testing::Fault;
using ::testing::HasSubstr;

domain::ReceiptRequest Receipt(const std::string& key) {
  return {key, "5a1f3c9e-0b7d-4e2a-9c11-000000000001", "49.90", "EUR", "corr-1"};
}

HttpClient ShortTimeouts() {
  return HttpClient(
      {.connect_timeout = absl::Milliseconds(500), .total_timeout = absl::Milliseconds(300)});
}

TEST(HttpClientTest, ReusesTheConnection) {
  FakeExternalApis fake;
  HttpClient client;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<HttpResponse> response =
        client.Send({"POST", fake.url() + "/nowhere", {}, "{}", "test"});
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, 404);
  }
  EXPECT_EQ(fake.connections(), 1);
}

TEST(HttpClientTest, SharedByConcurrentCallers) {
  FakeExternalApis fake;
  HttpClient client;
  HttpReceiptsApi api(client, fake.url());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const domain::ReceiptRequest receipts[] = {Receipt(absl::StrCat("k-", t, "-", i))};
        if (!api.Issue(receipts).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(fake.receipts_by_key().size(), 100u);
  EXPECT_LE(fake.connections(), 4) << "handles, and their connections, are reused";
}

TEST(HttpClientTest, TransportFailuresAreRetryable) {
  FakeExternalApis fake;
  fake.set_slow_delay(absl::Seconds(2));
  HttpClient client = ShortTimeouts();
  fake.FailNext(1, Fault::kSlow);
  const absl::Time start = absl::Now();
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      client.Send({"PUT", fake.url() + "/receipts", {}, "", "test"}).status()));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  fake.FailNext(1, Fault::kDrop);
  EXPECT_TRUE(
      absl::IsUnavailable(client.Send({"PUT", fake.url() + "/receipts", {}, "", "test"}).status()));
  const int closed_port = testing::PickFreePort();
  EXPECT_TRUE(absl::IsUnavailable(
      client.Send({"GET", absl::StrCat("http://127.0.0.1:", closed_port, "/"), {}, "", "test"})
          .status()));
}

// `n` requests to paths /nowhere/0 … /nowhere/n-1 (the fake answers 404, after its delay).
std::vector<HttpRequest> Nowhere(const FakeExternalApis& fake, int n) {
  std::vector<HttpRequest> requests;
  for (int i = 0; i < n; ++i) {
    requests.push_back({"POST", absl::StrCat(fake.url(), "/nowhere/", i), {}, "{}", "test"});
  }
  return requests;
}

TEST(HttpClientTest, ManyCallsOnOneLoopStayWithinTheLimitAndTheQueuedOnesComplete) {
  FakeExternalApis fake;
  fake.set_answer_delay(absl::Milliseconds(200));
  HttpClient client({.max_in_flight = 8});
  const absl::Time start = absl::Now();
  const std::vector<absl::StatusOr<HttpResponse>> results = client.SendAll(Nowhere(fake, 40));
  const absl::Duration took = absl::Now() - start;
  ASSERT_EQ(results.size(), 40u);
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->status, 404);
  }
  EXPECT_EQ(fake.max_in_flight(), 8) << "bounded by the limit, and the bound is reached";
  EXPECT_LE(fake.connections(), 8) << "connections are reused, never more than the limit";
  // 40 calls of 200 ms, 8 at a time: 5 waves, far below the 8 s of one after another.
  EXPECT_GE(took, absl::Milliseconds(5 * 200));
  EXPECT_LT(took, absl::Seconds(4));
  // First in, first out: call k starts once k - 7 calls have ended, so at least that many
  // reached the fake before it.
  const std::vector<testing::RecordedRequest> received = fake.requests();
  ASSERT_EQ(received.size(), 40u);
  for (size_t position = 0; position < received.size(); ++position) {
    int k = -1;
    ASSERT_TRUE(absl::SimpleAtoi(received[position].target.substr(9), &k));
    EXPECT_GE(static_cast<int>(position), k - 7) << "call " << k << " overtook the queue";
  }
}

TEST(HttpClientTest, SharedByManyCallersTheLimitIsTheClients) {
  FakeExternalApis fake;
  fake.set_answer_delay(absl::Milliseconds(50));
  HttpClient client({.max_in_flight = 4});
  std::vector<std::thread> callers;
  std::atomic<int> answered{0};
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (const auto& result : client.SendAll(Nowhere(fake, 10))) {
        if (result.ok() && result->status == 404) ++answered;
      }
    });
  }
  // The callers' 40 calls wait their turn in one queue.
  EXPECT_TRUE(Eventually([&] { return client.in_flight() == 4 && client.queued() > 0; },
                         absl::Seconds(10)));
  for (auto& caller : callers) caller.join();
  EXPECT_EQ(answered.load(), 40);
  EXPECT_LE(fake.max_in_flight(), 4);
  EXPECT_EQ(client.in_flight() + client.queued(), 0);
}

TEST(HttpClientTest, SendAsyncHandsEachResultToItsCallback) {
  FakeExternalApis fake;
  HttpClient client({.max_in_flight = 2});
  common::Mutex mu;
  std::vector<long> statuses;  // guarded by mu
  for (const HttpRequest& request : Nowhere(fake, 6)) {
    client.SendAsync(request, [&](absl::StatusOr<HttpResponse> response) {
      common::MutexLock lock(mu);
      statuses.push_back(response.ok() ? response->status : -1);
    });
  }
  EXPECT_TRUE(Eventually(
      [&] {
        common::MutexLock lock(mu);
        return statuses.size() == 6;
      },
      absl::Seconds(10)));
  common::MutexLock lock(mu);
  EXPECT_EQ(statuses, std::vector<long>(6, 404));
}

TEST(HttpClientTest, TimeoutsCountFromTheTransfersStartNotFromTheQueue) {
  FakeExternalApis fake;
  fake.set_answer_delay(absl::Milliseconds(150));
  // 6 calls, 2 at a time: the last waits 300 ms for its slot, longer than the timeout.
  HttpClient client({.connect_timeout = absl::Milliseconds(500),
                     .total_timeout = absl::Milliseconds(400),
                     .max_in_flight = 2});
  for (const auto& result : client.SendAll(Nowhere(fake, 6))) {
    EXPECT_TRUE(result.ok()) << result.status();
  }
}

TEST(HttpClientTest, CallsInFlightTimeOutTogether) {
  FakeExternalApis fake;
  fake.set_slow_delay(absl::Seconds(5));
  fake.FailNext(8, Fault::kSlow);
  HttpClient client({.connect_timeout = absl::Milliseconds(500),
                     .total_timeout = absl::Milliseconds(300),
                     .max_in_flight = 4});
  const absl::Time start = absl::Now();
  for (const auto& result : client.SendAll(Nowhere(fake, 8))) {
    EXPECT_TRUE(absl::IsDeadlineExceeded(result.status())) << result.status();
  }
  // Two waves of 300 ms, not 8 calls of 5 s.
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(HttpClientTest, ShutdownAbortsCallsInFlightAtOnceAndRefusesTheRest) {
  FakeExternalApis fake;
  fake.set_answer_delay(absl::Seconds(10));
  HttpClient client({.total_timeout = absl::Seconds(30), .max_in_flight = 4});
  std::vector<absl::StatusOr<HttpResponse>> results;
  std::thread caller([&] { results = client.SendAll(Nowhere(fake, 10)); });
  ASSERT_TRUE(Eventually([&] { return fake.in_flight() == 4; }, absl::Seconds(10)));
  const absl::Time shutdown = absl::Now();
  client.Shutdown();
  caller.join();
  EXPECT_LT(absl::Now() - shutdown, absl::Seconds(1)) << "not held up by the slow API";
  ASSERT_EQ(results.size(), 10u);
  int aborted = 0, not_sent = 0;
  for (const auto& result : results) {
    ASSERT_TRUE(absl::IsUnavailable(result.status())) << result.status();
    // Those in flight may have reached the API; the queued ones certainly did not.
    if (domain::IsApiFailure(result.status())) {
      ++not_sent;
      EXPECT_THAT(std::string(result.status().message()), HasSubstr("not sent"));
    } else {
      ++aborted;
      EXPECT_THAT(std::string(result.status().message()), HasSubstr("aborted"));
    }
  }
  EXPECT_EQ(aborted, 4);
  EXPECT_EQ(not_sent, 6);
  const absl::Time after = absl::Now();
  const absl::StatusOr<HttpResponse> late =
      client.Send({"PUT", fake.url() + "/receipts", {}, "", "test"});
  EXPECT_TRUE(absl::IsUnavailable(late.status()) && domain::IsApiFailure(late.status()));
  EXPECT_LT(absl::Now() - after, absl::Milliseconds(100)) << "fails at once";
}

TEST(HttpClientTest, CountsCallsByApiAndStatus) {
  FakeExternalApis fake;
  metrics::Metrics metrics;
  HttpClient client({.connect_timeout = absl::Milliseconds(500),
                     .total_timeout = absl::Milliseconds(500),
                     .metrics = &metrics});
  fake.FailNext(1, Fault::kStatus500);
  std::vector<HttpRequest> requests = Nowhere(fake, 3);
  requests.push_back(
      {"GET", absl::StrCat("http://127.0.0.1:", testing::PickFreePort(), "/"), {}, "", "receipts"});
  std::vector<absl::StatusOr<HttpResponse>> results = client.SendAll(std::move(requests));
  ASSERT_EQ(results.size(), 4u);
  const std::string rendered = metrics.Render();
  EXPECT_THAT(rendered, HasSubstr(R"(booking_external_calls_total{api="test",status="404"} 2)"));
  EXPECT_THAT(rendered, HasSubstr(R"(booking_external_calls_total{api="test",status="500"} 1)"));
  EXPECT_THAT(rendered,
              HasSubstr(R"(booking_external_calls_total{api="receipts",status="error"} 1)"));
  EXPECT_TRUE(domain::IsApiFailure(results[3].status())) << "refused: the API is away";
}

// Serves one connection: reads the request head, answers 200 with `body_bytes` bytes.
class OneShotServer {
 public:
  explicit OneShotServer(size_t body_bytes) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(listener_, 1), 0);
    socklen_t size = sizeof(address);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this, body_bytes] {
      const int connection = accept(listener_, nullptr, nullptr);
      if (connection < 0) return;
      std::string head;
      char buffer[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = read(connection, buffer, sizeof(buffer));
        if (n <= 0) break;
        head.append(buffer, static_cast<size_t>(n));
      }
      const std::string answer = absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", body_bytes,
                                              "\r\n\r\n", std::string(body_bytes, 'x'));
      // The client may stop reading once it has had enough: errors here are expected.
      for (size_t sent = 0; sent < answer.size();) {
        const ssize_t n =
            send(connection, answer.data() + sent, answer.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      close(connection);
    });
  }
  ~OneShotServer() {
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(HttpClientTest, AnswersLongerThanTheCapFailTheCall) {
  OneShotServer big(3 << 20);  // 3 MiB
  HttpClient client({.max_response_bytes = 1 << 20});
  absl::StatusOr<HttpResponse> response =
      client.Send({"PUT", big.url() + "/receipts", {}, "", "t"});
  EXPECT_TRUE(absl::IsUnavailable(response.status())) << response.status();
  EXPECT_THAT(std::string(response.status().message()), ::testing::HasSubstr("1048576 bytes"));

  OneShotServer small(1000);
  response = client.Send({"PUT", small.url() + "/receipts", {}, "", "t"});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body.size(), 1000u);
}

TEST(HttpClientTest, ErrorsNeverCarryCredentialsFromTheUrl) {
  EXPECT_EQ(RedactUrl("https://user:secret@api.example.com/receipts?token=abc"),
            "https://***@api.example.com/receipts?***");
  EXPECT_EQ(RedactUrl("http://127.0.0.1:8080/receipts"), "http://127.0.0.1:8080/receipts");
  EXPECT_EQ(RedactUrl("http://host/a@b"), "http://host/a@b") << "an @ in the path is not user info";
  HttpClient client = ShortTimeouts();
  // Nothing listens on port 1: the error names the URL, without the secret.
  absl::StatusOr<HttpResponse> response =
      client.Send({"PUT", "http://user:secret@127.0.0.1:1/receipts?key=hidden", {}, "", "t"});
  ASSERT_FALSE(response.ok());
  EXPECT_THAT(std::string(response.status().message()), ::testing::HasSubstr("127.0.0.1:1"));
  EXPECT_THAT(std::string(response.status().message()),
              ::testing::Not(::testing::HasSubstr("secret")));
  EXPECT_THAT(std::string(response.status().message()),
              ::testing::Not(::testing::HasSubstr("hidden")));
}

TEST(HttpClientTest, StatusFromHttpSaysWhetherToRetry) {
  auto code = [](long status) { return StatusFromHttp({status, "x"}, "api").code(); };
  EXPECT_EQ(code(200), absl::StatusCode::kOk);
  EXPECT_EQ(code(201), absl::StatusCode::kOk);
  EXPECT_EQ(code(500), absl::StatusCode::kUnavailable);
  EXPECT_EQ(code(503), absl::StatusCode::kUnavailable);
  EXPECT_EQ(code(429), absl::StatusCode::kUnavailable);
  EXPECT_EQ(code(408), absl::StatusCode::kUnavailable);
  EXPECT_EQ(code(400), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(401), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(404), absl::StatusCode::kNotFound);
  EXPECT_EQ(code(418), absl::StatusCode::kFailedPrecondition);
}

TEST(HttpReceiptsApiTest, SendsTheContractAndAcceptsBoth200And201) {
  FakeExternalApis fake;
  HttpClient client;
  HttpReceiptsApi api(client, fake.url() + "/");
  const domain::ReceiptRequest receipts[] = {Receipt("key-1/t1")};
  ASSERT_TRUE(api.Issue(receipts).ok());
  ASSERT_TRUE(api.Issue(receipts).ok()) << "200 for an existing receipt is success";
  std::vector<testing::RecordedRequest> sent = fake.requests_to("/receipts");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].method, "PUT");
  EXPECT_EQ(sent[0].headers["correlation-id"], "corr-1");
  EXPECT_EQ(sent[0].headers["idempotency-key"], "key-1/t1");
  EXPECT_EQ(sent[0].headers["content-type"], "application/json");
  EXPECT_EQ(
      sent[0].body,
      R"({"ticket_id":"5a1f3c9e-0b7d-4e2a-9c11-000000000001","price":{"money_amount":"49.90",)"
      R"("money_currency":"EUR"},"idempotency_key":"key-1/t1"})");
  EXPECT_EQ(fake.receipts_by_key().size(), 1u);
}

TEST(HttpReceiptsApiTest, ServerErrorIsRetryableClientErrorIsNot) {
  FakeExternalApis fake;
  HttpClient client;
  HttpReceiptsApi api(client, fake.url());
  const domain::ReceiptRequest receipts[] = {Receipt("k")};
  fake.FailNext(1, Fault::kStatus500);
  EXPECT_TRUE(absl::IsUnavailable(api.Issue(receipts)));
  const domain::ReceiptRequest no_key[] = {Receipt("")};
  EXPECT_TRUE(absl::IsInvalidArgument(api.Issue(no_key)));
  EXPECT_TRUE(api.Issue(receipts).ok());
}

TEST(HttpReceiptsApiTest, IssueEachSendsTheWholeBatchAtOnce) {
  FakeExternalApis fake;
  // No answer before all 20 are in flight: sent one after another, each would wait 10 s.
  fake.HoldAnswersUntilInFlight(20, absl::Seconds(10));
  HttpClient client;
  HttpReceiptsApi api(client, fake.url());
  std::vector<domain::ReceiptRequest> receipts;
  for (int i = 0; i < 20; ++i) receipts.push_back(Receipt(absl::StrCat("each-", i)));
  receipts[7] = Receipt("");  // the fake refuses a receipt without a key: 400
  std::vector<absl::Status> results(receipts.size());
  api.IssueEach(receipts, absl::MakeSpan(results));
  for (size_t i = 0; i < results.size(); ++i) {
    if (i == 7) {
      EXPECT_TRUE(absl::IsInvalidArgument(results[i])) << results[i];
    } else {
      EXPECT_TRUE(results[i].ok()) << i << ": " << results[i];
    }
  }
  EXPECT_EQ(fake.receipts_by_key().size(), 19u);
  EXPECT_EQ(fake.max_in_flight(), 20);
}

TEST(HttpSpreadsheetsApiTest, PostsOneRowPerRecordToTheSheet) {
  FakeExternalApis fake;
  HttpClient client;
  HttpSpreadsheetsApi api(client, fake.url());
  const domain::TrackerRow rows[] = {{"e1", "t1", "ann@example.com", "49.90", "EUR", "corr-1"},
                                     {"e2", "t2", "bob@example.com", "5.00", "USD", "corr-2"}};
  ASSERT_TRUE(api.Append(kTicketsToPrintSheet, rows).ok());
  EXPECT_THAT(fake.rows("tickets-to-print"),
              ElementsAre(ElementsAre("t1", "ann@example.com", "49.90", "EUR"),
                          ElementsAre("t2", "bob@example.com", "5.00", "USD")));
  std::vector<testing::RecordedRequest> sent = fake.requests();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].target, "/sheets/tickets-to-print/rows");
  EXPECT_EQ(sent[0].body, R"({"columns":["t1","ann@example.com","49.90","EUR"]})");
  EXPECT_EQ(sent[1].headers["correlation-id"], "corr-2");
}

}  // namespace
}  // namespace booking::clients
