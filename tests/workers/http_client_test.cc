// HttpClient and the two HTTP APIs against the fake services, over real sockets.
#include "workers/http_client.h"

#include <google/protobuf/util/json_util.h>

#include <atomic>
#include <thread>

#include "external/v1/receipts.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_external_apis.h"
#include "tests/support/server_process.h"
#include "workers/http_receipts_api.h"
#include "workers/http_spreadsheets_api.h"

namespace booking::workers {
namespace {

using ::testing::ElementsAre;
using testing::FakeExternalApis;
using testing::Fault;

storage::ReceiptRecord Receipt(const std::string& key) {
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
        const storage::ReceiptRecord receipts[] = {Receipt(absl::StrCat("k-", t, "-", i))};
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
  const storage::ReceiptRecord receipts[] = {Receipt("key-1/t1")};
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
  const storage::ReceiptRecord receipts[] = {Receipt("k")};
  fake.FailNext(1, Fault::kStatus500);
  EXPECT_TRUE(absl::IsUnavailable(api.Issue(receipts)));
  const storage::ReceiptRecord no_key[] = {Receipt("")};
  EXPECT_TRUE(absl::IsInvalidArgument(api.Issue(no_key)));
  EXPECT_TRUE(api.Issue(receipts).ok());
}

TEST(HttpSpreadsheetsApiTest, PostsOneRowPerRecordToTheSheet) {
  FakeExternalApis fake;
  HttpClient client;
  HttpSpreadsheetsApi api(client, fake.url());
  const storage::TrackerRowRecord rows[] = {
      {"e1", "t1", "ann@example.com", "49.90", "EUR", "corr-1"},
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
}  // namespace booking::workers
