// What an operator relies on, against the real binary: /metrics moved by a known workload, the
// access log, and no secrets in the logs.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <map>
#include <pqxx/pqxx>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tests/support/bad_requests.h"
#include "tests/support/booking_server.h"
#include "tests/support/eventually.h"
#include "tests/support/http_call.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"
#include "tickets/v1/admin.grpc.pb.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kJson[] = "Content-Type: application/json";

// Samples of a Prometheus text page: "name{labels}" → value; comments skipped.
std::map<std::string, double> ParseMetrics(const std::string& page) {
  std::map<std::string, double> samples;
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

class OperationsE2eTest : public ::testing::Test {
 protected:
  void StartServer(testing::ServerFlags flags) {
    server_ = testing::BookingServer::Start(db_.url(), std::move(flags));
    ASSERT_TRUE(server_->ready());
    stub_ = tickets::v1::BookingService::NewStub(server_->channel());
  }
  void TearDown() override { stub_.reset(); }
  std::string Url(const std::string& path) const { return server_->url(path); }
  grpc::Status ListDeadLetters(const std::string& token) {
    auto admin = tickets::v1::AdminService::NewStub(server_->channel());
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    tickets::v1::ListDeadLettersResponse response;
    return admin->ListDeadLetters(&context, {}, &response);
  }
  grpc::Status Update(const tickets::v1::UpdateTicketsStatusRequest& request,
                      const std::string& key,
                      const std::vector<std::pair<std::string, std::string>>& metadata = {},
                      absl::Duration timeout = absl::Seconds(10)) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    context.AddMetadata("idempotency-key", key);
    for (const auto& [name, value] : metadata) context.AddMetadata(name, value);
    tickets::v1::UpdateTicketsStatusResponse response;
    return stub_->UpdateTicketsStatus(&context, request, &response);
  }
  std::map<std::string, double> Scrape() {
    testing::HttpResult page = http_.Call("GET", Url("/metrics"));
    EXPECT_EQ(page.status, 200) << page.body;
    EXPECT_THAT(page.headers["content-type"], HasSubstr("text/plain"));
    return ParseMetrics(page.body);
  }

  testing::TestDatabase db_;
  std::unique_ptr<testing::BookingServer> server_;
  std::unique_ptr<tickets::v1::BookingService::Stub> stub_;
  testing::HttpCaller http_;
};

constexpr char kUpdate[] = "/tickets.v1.BookingService/UpdateTicketsStatus";

TEST_F(OperationsE2eTest, MetricsMoveByExactlyWhatAKnownWorkloadDid) {
  StartServer({"--queue_capacity=5000", "--db_pool_size=6"});
  std::map<std::string, double> before = Scrape();

  constexpr int kGrpcCalls = 12, kTicketsPerCall = 2, kRestCalls = 5, kBadCalls = 3;
  for (int i = 0; i < kGrpcCalls; ++i) {
    ASSERT_TRUE(Update(testing::ValidRequest(kTicketsPerCall, "7e000000", i * kTicketsPerCall),
                       absl::StrCat("metrics-", i))
                    .ok());
  }
  for (int i = 0; i < kRestCalls; ++i) {
    const std::string body =
        absl::StrCat(R"({"tickets":[{"ticket_id":"7f000000-0000-4000-8000-00000000000)", i,
                     R"(","status":"confirmed","customer_email":"ann@example.com",)",
                     R"("price":{"amount":"10.00","currency":"EUR"}}]})");
    ASSERT_EQ(http_
                  .Call("POST", Url("/tickets-status"), body,
                        {kJson, absl::StrCat("Idempotency-Key: rest-", i)})
                  .status,
              200);
  }
  tickets::v1::UpdateTicketsStatusRequest bad = testing::ValidRequest(1);
  bad.mutable_tickets(0)->set_ticket_id("not-a-uuid");
  for (int i = 0; i < kBadCalls; ++i) {
    EXPECT_EQ(Update(bad, absl::StrCat("bad-", i)).error_code(), grpc::INVALID_ARGUMENT);
  }

  constexpr int kEvents = kGrpcCalls * kTicketsPerCall + kRestCalls;
  auto delta = [&](const std::map<std::string, double>& after, const std::string& name) {
    auto was = before.find(name);
    auto now = after.find(name);
    return (now == after.end() ? 0 : now->second) - (was == before.end() ? 0 : was->second);
  };
  // Handlers finish after the calls are answered: wait (bounded) for the last deliveries.
  std::map<std::string, double> after;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  do {
    after = Scrape();
    // Each handler runs on its own: all three must be through, and the lag refreshed.
    bool done = after["booking_handler_lag_events{handler=\"StoreTickets\"}"] == 0;
    for (const char* handler : {"StoreTickets", "IssueReceipt", "AppendToTracker"}) {
      done = done && delta(after, absl::StrCat(R"(booking_deliveries_total{handler=")", handler,
                                               R"(",outcome="success"})")) >= kEvents;
    }
    if (done) break;
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < deadline);

  EXPECT_EQ(delta(after, absl::StrCat(R"(booking_calls_total{code="OK",method=")", kUpdate,
                                      R"(",protocol="grpc"})")),
            kGrpcCalls);
  EXPECT_EQ(delta(after, absl::StrCat(R"(booking_calls_total{code="OK",method=")", kUpdate,
                                      R"(",protocol="http"})")),
            kRestCalls);
  EXPECT_EQ(delta(after, absl::StrCat(R"(booking_calls_total{code="INVALID_ARGUMENT",method=")",
                                      kUpdate, R"(",protocol="grpc"})")),
            kBadCalls);
  EXPECT_EQ(delta(after, absl::StrCat(R"(booking_call_duration_seconds_count{method=")", kUpdate,
                                      R"(",protocol="grpc"})")),
            kGrpcCalls + kBadCalls);
  EXPECT_EQ(delta(after, R"(booking_events_total{stage="accepted"})"), kEvents);
  EXPECT_EQ(delta(after, R"(booking_events_total{stage="published"})"), kEvents);
  EXPECT_EQ(delta(after, "booking_log_commit_events_sum"), kEvents);
  EXPECT_GE(delta(after, "booking_log_commit_duration_seconds_count"), 1);
  for (const char* handler : {"StoreTickets", "IssueReceipt", "AppendToTracker"}) {
    EXPECT_EQ(delta(after, absl::StrCat(R"(booking_deliveries_total{handler=")", handler,
                                        R"(",outcome="success"})")),
              kEvents)
        << handler;
    EXPECT_GE(delta(after, absl::StrCat(R"(booking_handler_batch_duration_seconds_count{handler=")",
                                        handler, R"("})")),
              1)
        << handler;
  }
  for (const char* handler : {"StoreTickets", "IssueReceipt", "AppendToTracker",
                              "RemoveCanceledTicket", "AppendToRefund"}) {
    const std::string label = absl::StrCat("{handler=\"", handler, "\"}");
    EXPECT_EQ(after.count("booking_handler_lag_events" + label), 1u) << handler;
    EXPECT_EQ(after["booking_handler_lag_events" + label], 0) << handler;
    EXPECT_EQ(after["booking_handler_in_flight_events" + label], 0) << handler;
    EXPECT_EQ(after["booking_handler_retry_backlog_events" + label], 0) << handler;
    EXPECT_EQ(after.count("booking_handler_breaker_state" + label), 1u) << handler;
    EXPECT_EQ(after["booking_handler_breaker_state" + label], 0) << handler;
  }
  // The same over REST, as GetHandlerStatus.
  testing::HttpResult status = http_.Call("GET", Url("/v1/admin/handlers"), "", {});
  EXPECT_EQ(status.status, 200) << status.body;
  EXPECT_THAT(status.body, HasSubstr(R"("handler":"StoreTickets")"));
  EXPECT_THAT(status.body, HasSubstr(R"("breaker":"closed")"));
  EXPECT_THAT(status.body, HasSubstr(absl::StrCat(R"("succeeded":")", kEvents, R"(")")));
  EXPECT_THAT(status.body, HasSubstr(R"("partitions_held":16)"));
  // The in-memory queue's gauges exist only with --event_log=memory.
  EXPECT_EQ(after.count("booking_queue_capacity"), 0u);
  EXPECT_EQ(after["booking_db_pool_connections"], 6);
  EXPECT_EQ(after["booking_db_pool_in_use"] + after["booking_db_pool_idle"],
            after["booking_db_pool_connections"]);
}

// Calls to made-up methods (gRPC hands them to its generic service) count as one "unknown" method
// label, however many names a client invents: /metrics stays bounded. No token needed to try.
TEST_F(OperationsE2eTest, MadeUpMethodsShareOneMetricLabel) {
  StartServer({});
  grpc::GenericStub generic(
      grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials()));
  constexpr int kCalls = 300;
  for (int i = 0; i < kCalls; ++i) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&context, absl::StrCat("/made.up.Service", i, "/Method", i),
                      grpc::StubOptions(), &request, &response,
                      [&done](grpc::Status status) { done.set_value(status); });
    EXPECT_EQ(done.get_future().get().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }
  testing::HttpResult page = http_.Call("GET", Url("/metrics"));
  ASSERT_EQ(page.status, 200);
  EXPECT_THAT(page.body, Not(HasSubstr("made.up"))) << "no label per invented name";
  const std::map<std::string, double> metrics = ParseMetrics(page.body);
  EXPECT_EQ(
      metrics.at(R"(booking_calls_total{code="UNIMPLEMENTED",method="unknown",protocol="grpc"})"),
      kCalls);
  EXPECT_THAT(server_->log(), Not(HasSubstr("made.up"))) << "nor a log field";
}

// A correlation id that could forge log fields is replaced by a generated one (with a warning
// that does not repeat it), over gRPC and REST; neither access line carries the caller's value.
TEST_F(OperationsE2eTest, HostileCorrelationIdNeverReachesTheLog) {
  StartServer({});
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  context.AddMetadata("idempotency-key", "hostile-1");
  context.AddMetadata("correlation-id", "evil-grpc status=500");
  tickets::v1::UpdateTicketsStatusResponse response;
  ASSERT_TRUE(
      stub_->UpdateTicketsStatus(&context, testing::ValidRequest(1, "7e400000"), &response).ok());
  auto echoed = context.GetServerInitialMetadata().find("correlation-id");
  ASSERT_NE(echoed, context.GetServerInitialMetadata().end());
  const std::string grpc_id(echoed->second.data(), echoed->second.size());
  EXPECT_EQ(grpc_id.size(), 36u) << "a generated UUID: " << grpc_id;

  testing::HttpResult rest = http_.Call(
      "POST", Url("/v1/tickets-status"),
      R"({"tickets":[{"ticket_id":"7e400001-0000-4000-8000-000000000001","status":"confirmed",)"
      R"("customer_email":"a@example.com","price":{"amount":"1.00","currency":"EUR"}}]})",
      {kJson, "Idempotency-Key: hostile-2", "Correlation-ID: evil-rest\" status=500"});
  ASSERT_EQ(rest.status, 200) << rest.body;
  const std::string rest_id = rest.headers["correlation-id"];
  EXPECT_EQ(rest_id.size(), 36u) << rest_id;

  const std::string log = server_->log();
  EXPECT_THAT(log, Not(HasSubstr("evil"))) << log;
  EXPECT_THAT(log, HasSubstr("correlation_id=" + grpc_id)) << "the access line uses the new id";
  EXPECT_THAT(log, HasSubstr("correlation_id=" + rest_id));
  int warnings = 0;
  for (size_t at = log.find("correlation id replaced"); at != std::string::npos;
       at = log.find("correlation id replaced", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 2);
}

TEST_F(OperationsE2eTest, AccessLogHasOneLinePerCallWithItsCorrelationId) {
  StartServer({"--log_level=info"});
  ASSERT_TRUE(
      Update(testing::ValidRequest(1, "7a000000"), "log-1", {{"correlation-id", "corr-grpc-1"}})
          .ok());
  const std::string body =
      R"({"tickets":[{"ticket_id":"7b000000-0000-4000-8000-000000000001","status":"confirmed",)"
      R"("customer_email":"ann@example.com","price":{"amount":"10.00","currency":"EUR"}}]})";
  ASSERT_EQ(http_
                .Call("POST", Url("/tickets-status"), body,
                      {kJson, "Idempotency-Key: log-2", "Correlation-ID: corr-http-1"})
                .status,
            200);
  stub_.reset();  // an idle client connection holds a graceful stop for up to its grace
  ASSERT_TRUE(server_->Stop().ok());
  const std::string log = server_->log();
  auto count = [&](const std::string& pattern) {
    const std::regex re(pattern);
    return std::distance(std::sregex_iterator(log.begin(), log.end(), re), std::sregex_iterator());
  };
  EXPECT_EQ(count("call protocol=grpc method=/tickets.v1.BookingService/UpdateTicketsStatus "
                  "code=OK [^\\n]*correlation_id=corr-grpc-1"),
            1)
      << log;
  EXPECT_EQ(count("call protocol=http method=POST path=/tickets-status status=200 "
                  "[^\\n]*correlation_id=corr-http-1"),
            1)
      << log;
  // The REST call is not logged a second time as the gRPC call behind it.
  EXPECT_EQ(count("call protocol=grpc[^\\n]*correlation_id=corr-http-1"), 0) << log;
}

std::string WriteTokens(const std::string& path, const std::string& content) {
  std::ofstream(path) << content;
  return path;
}

TEST_F(OperationsE2eTest, BearerTokensGuardWritesAndAdminOverGrpcAndRestAndReloadOnSighup) {
  const std::string tokens = WriteTokens(absl::StrCat(::testing::TempDir(), "tokens-", getpid()),
                                         "# ops team\ntok-alpha\n\ntok-beta\n");
  StartServer({absl::StrCat("--auth_tokens_file=", tokens)});
  auto request = [n = 0]() mutable { return testing::ValidRequest(1, "7c000000", n++); };

  grpc::Status missing = Update(request(), "a-1");
  EXPECT_EQ(missing.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_THAT(missing.error_message(), HasSubstr("authorization"));
  EXPECT_EQ(Update(request(), "a-2", {{"authorization", "Bearer tok-wrong"}}).error_code(),
            grpc::UNAUTHENTICATED);
  EXPECT_EQ(Update(request(), "a-3", {{"authorization", "Basic tok-alpha"}}).error_code(),
            grpc::UNAUTHENTICATED);
  EXPECT_TRUE(Update(request(), "a-4", {{"authorization", "Bearer tok-alpha"}}).ok());
  EXPECT_EQ(ListDeadLetters("").error_code(), grpc::UNAUTHENTICATED);
  EXPECT_TRUE(ListDeadLetters("tok-beta").ok());

  const std::string body =
      R"({"tickets":[{"ticket_id":"7d000000-0000-4000-8000-000000000001","status":"confirmed",)"
      R"("customer_email":"ann@example.com","price":{"amount":"10.00","currency":"EUR"}}]})";
  testing::HttpResult refused =
      http_.Call("POST", Url("/tickets-status"), body, {kJson, "Idempotency-Key: r-1"});
  EXPECT_EQ(refused.status, 401) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("\"code\":16"));
  EXPECT_EQ(http_
                .Call("POST", Url("/tickets-status"), body,
                      {kJson, "Idempotency-Key: r-2", "Authorization: Bearer tok-beta"})
                .status,
            200);
  // Health, metrics and reads stay open.
  EXPECT_EQ(http_.Call("GET", Url("/health")).status, 200);
  EXPECT_EQ(http_.Call("GET", Url("/metrics")).status, 200);
  EXPECT_EQ(http_.Call("GET", Url("/v1/tickets")).status, 200);
  // Only the two calls with an accepted token published anything.
  EXPECT_EQ(db_.Count("events"), 2);

  // Revoke tok-alpha; SIGHUP re-reads the file.
  WriteTokens(tokens, "tok-beta\n");
  ASSERT_EQ(kill(server_->process().pid(), SIGHUP), 0);
  bool revoked = false;
  for (int i = 0; i < 100 && !revoked; ++i) {
    revoked = Update(request(), absl::StrCat("b-", i), {{"authorization", "Bearer tok-alpha"}})
                  .error_code() == grpc::UNAUTHENTICATED;
    if (!revoked) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(revoked) << server_->log();
  testing::HttpResult revoked_rest =
      http_.Call("POST", Url("/tickets-status"), body,
                 {kJson, "Idempotency-Key: r-3", "Authorization: Bearer tok-alpha"});
  EXPECT_EQ(revoked_rest.status, 401) << revoked_rest.body;
  EXPECT_TRUE(Update(request(), "c-1", {{"authorization", "Bearer tok-beta"}}).ok());
  EXPECT_TRUE(server_->running()) << "SIGHUP must not stop the server";
}

// With tokens on, an idempotency key is its caller's: another box office can neither claim nor
// probe it (no FAILED_PRECONDITION / 422 telling it the key is taken), tokens of one caller
// (a rotation) share their keys, and a call accepted before (tokens off) is not redone.
TEST_F(OperationsE2eTest, IdempotencyKeysAreEachCallersOwn) {
  StartServer({});
  const tickets::v1::UpdateTicketsStatusRequest early = testing::ValidRequest(1, "7c100000");
  ASSERT_TRUE(Update(early, "order-1").ok());
  stub_.reset();
  ASSERT_TRUE(server_->Stop().ok());
  ASSERT_EQ(db_.Count("events"), 1);

  const std::string tokens =
      WriteTokens(absl::StrCat(::testing::TempDir(), "tokens-callers-", getpid()),
                  "paris-old write caller=paris\nparis-new write caller=paris\nlyon-1 write\n");
  StartServer({absl::StrCat("--auth_tokens_file=", tokens)});
  const auto as = [](const std::string& token) {
    return std::vector<std::pair<std::string, std::string>>{{"authorization", "Bearer " + token}};
  };
  const tickets::v1::UpdateTicketsStatusRequest paris = testing::ValidRequest(1, "7c200000");
  const tickets::v1::UpdateTicketsStatusRequest lyon = testing::ValidRequest(1, "7c300000");
  ASSERT_TRUE(Update(paris, "paris-7", as("paris-old")).ok());
  // Lyon uses Paris's key for another request: its own call, published, nothing refused.
  const grpc::Status probe = Update(lyon, "paris-7", as("lyon-1"));
  EXPECT_TRUE(probe.ok()) << probe.error_message();
  // ... and for Paris's very request under Paris's key: its own call, published, not a replay
  // of Paris's answer.
  const tickets::v1::UpdateTicketsStatusRequest paris_9 = testing::ValidRequest(1, "7c210000");
  ASSERT_TRUE(Update(paris_9, "paris-9", as("paris-old")).ok());
  EXPECT_TRUE(Update(paris_9, "paris-9", as("lyon-1")).ok());
  EXPECT_EQ(db_.Count("events"), 5);
  // Over REST as well: Lyon pre-claims "paris-8" before Paris uses it.
  const std::string body =
      R"({"tickets":[{"ticket_id":"7c400000-0000-4000-8000-000000000001","status":"confirmed",)"
      R"("customer_email":"ann@example.com","price":{"amount":"10.00","currency":"EUR"}}]})";
  EXPECT_EQ(http_
                .Call("POST", Url("/tickets-status"), body,
                      {kJson, "Idempotency-Key: paris-8", "Authorization: Bearer lyon-1"})
                .status,
            200);
  testing::HttpResult own = http_.Call(
      "POST", Url("/tickets-status"), absl::StrReplaceAll(body, {{"7c400000", "7c500000"}}),
      {kJson, "Idempotency-Key: paris-8", "Authorization: Bearer paris-new"});
  EXPECT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(db_.Count("events"), 7);

  // Paris's next token is Paris: the retry is a replay; a new request under the key is refused.
  EXPECT_TRUE(Update(paris, "paris-7", as("paris-new")).ok());
  EXPECT_EQ(Update(lyon, "paris-7", as("paris-new")).error_code(), grpc::FAILED_PRECONDITION);
  // The call from before tokens were on: its retry publishes nothing.
  EXPECT_TRUE(Update(early, "order-1", as("paris-new")).ok());
  EXPECT_EQ(db_.Count("events"), 7);
  // The events' keys, so the receipts' too, are the callers' own.
  EXPECT_EQ(db_.Count("events WHERE idempotency_key LIKE 'paris:paris-7/%'"), 1);
  EXPECT_EQ(db_.Count("events WHERE idempotency_key ~ '^token-[0-9a-f]{16}:paris-[79]/'"), 2);
}

TEST_F(OperationsE2eTest, JsonLogsCarryFieldsAndNeverThePasswordOrTokens) {
  const std::string tokens =
      WriteTokens(absl::StrCat(::testing::TempDir(), "tokens-json-", getpid()), "tok-secret-42\n");
  std::string url = db_.url();
  const size_t at = url.find("postgres@");
  ASSERT_NE(at, std::string::npos) << url;
  url.replace(at, 9, "postgres:pw-hush-99@");  // the test cluster trusts, any password works
  StartServer({"--log_format=json", "--log_level=debug", absl::StrCat("--database_url=", url),
               absl::StrCat("--auth_tokens_file=", tokens)});
  ASSERT_TRUE(Update(testing::ValidRequest(1, "7e100000"), "j-1",
                     {{"authorization", "Bearer tok-secret-42"}, {"correlation-id", "corr-j-1"}})
                  .ok());
  EXPECT_EQ(Update(testing::ValidRequest(1, "7e100001"), "j-2",
                   {{"authorization", "Bearer tok-wrong-77"}})
                .error_code(),
            grpc::UNAUTHENTICATED);
  ASSERT_EQ(http_.Call("GET", Url("/metrics"), "", {"Authorization: Bearer tok-secret-42"}).status,
            200);
  stub_.reset();  // an idle client connection holds a graceful stop for up to its grace
  ASSERT_TRUE(server_->Stop().ok());
  const std::string log = server_->log();
  EXPECT_THAT(log, Not(HasSubstr("pw-hush-99")));
  EXPECT_THAT(log, Not(HasSubstr("tok-secret-42")));
  EXPECT_THAT(log, Not(HasSubstr("tok-wrong-77")));
  std::istringstream lines(log);
  int parsed = 0, with_correlation = 0;
  for (std::string line; std::getline(lines, line);) {
    google::protobuf::Struct record;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &record).ok()) << line;
    ++parsed;
    for (const char* field : {"time", "level", "message"}) {
      EXPECT_TRUE(record.fields().contains(field)) << line;
    }
    auto it = record.fields().find("correlation_id");
    if (it != record.fields().end() && it->second.string_value() == "corr-j-1") ++with_correlation;
  }
  EXPECT_GT(parsed, 5);
  EXPECT_GE(with_correlation, 2) << "the access line and the accept line" << log;
}

TEST_F(OperationsE2eTest, OversizedMessageIsRefusedAndStoresNothing) {
  StartServer({"--max_message_bytes=65536"});
  tickets::v1::UpdateTicketsStatusRequest big = testing::ValidRequest(1, "7e200000");
  big.mutable_tickets(0)->set_customer_email(std::string(70000, 'a') + "@example.com");
  grpc::Status status = Update(big, "big-1");
  EXPECT_EQ(status.error_code(), grpc::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("65536"));
  EXPECT_TRUE(Update(testing::ValidRequest(1, "7e200001"), "small-1").ok());
  EXPECT_EQ(db_.Count("events"), 1);
}

TEST_F(OperationsE2eTest, ConcurrentCallsBeyondTheLimitAreRefusedAtOnce) {
  // The held calls must outlast the test on a slow machine: were they cut by the statement
  // timeout, every later call would take their place and wait its own timeout out.
  StartServer({"--max_concurrent_calls=2", "--db_statement_timeout=60s"});
  // Hold the events table: the first two calls wait for their commit.
  pqxx::connection blocker(db_.url());
  pqxx::work lock(blocker);
  lock.exec0("LOCK TABLE events IN EXCLUSIVE MODE");
  std::vector<std::future<grpc::Status>> waiting;
  for (int i = 0; i < 2; ++i) {
    waiting.push_back(std::async(std::launch::async, [this, i] {
      return Update(testing::ValidRequest(1, "7e300000", i), absl::StrCat("held-", i), {},
                    absl::Seconds(90));
    }));
  }
  // Once both are in flight, a third is refused.
  ASSERT_TRUE(testing::Eventually([&] { return Scrape()["booking_calls_in_flight"] == 2; },
                                  absl::Seconds(30)))
      << "the two calls are not in flight";
  const absl::Time start = absl::Now();
  const grpc::Status third = Update(testing::ValidRequest(1, "7e300100"), "third");
  EXPECT_LT(absl::Now() - start, absl::Seconds(2)) << "refused at once, not queued";
  EXPECT_EQ(third.error_code(), grpc::RESOURCE_EXHAUSTED) << third.error_message();
  EXPECT_THAT(third.error_message(), HasSubstr("max_concurrent_calls"));
  // AIP-193: the refusal says when to retry, over gRPC (RetryInfo) and REST (also Retry-After).
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(third.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(details.details(0).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 1);
  testing::HttpResult rest = http_.Call(
      "POST", Url("/v1/tickets-status"),
      R"({"tickets":[{"ticket_id":"7e300300-0000-4000-8000-000000000001","status":"confirmed",)"
      R"("customer_email":"a@example.com","price":{"amount":"1.00","currency":"EUR"}}]})",
      {"Content-Type: application/json", "Idempotency-Key: rest-third"});
  EXPECT_EQ(rest.status, 429) << rest.body;
  EXPECT_EQ(rest.headers["retry-after"], "1");
  EXPECT_THAT(rest.body, HasSubstr(R"({"@type":"type.googleapis.com/google.rpc.RetryInfo",)"
                                   R"("retryDelay":"1s"})"));
  lock.abort();
  for (auto& call : waiting) EXPECT_TRUE(call.get().ok());
  EXPECT_TRUE(Update(testing::ValidRequest(1, "7e300200"), "after-1").ok());
}

// Every pooled connection stuck behind a lock is a busy workload, not a dead database: health
// has its own connection and stays SERVING; it says NOT_SERVING only when PostgreSQL is gone.
TEST_F(OperationsE2eTest, HealthStaysServingWhileThePoolIsBusy) {
  StartServer({"--db_pool_size=2", "--db_statement_timeout=30s"});
  pqxx::connection blocker(db_.url());
  pqxx::work lock(blocker);
  lock.exec0("LOCK TABLE events IN ACCESS EXCLUSIVE MODE");  // appends and reads wait
  std::vector<std::future<grpc::Status>> waiting;
  for (int i = 0; i < 4; ++i) {
    waiting.push_back(std::async(std::launch::async, [this, i] {
      return Update(testing::ValidRequest(1, "7e500000", i), absl::StrCat("busy-", i));
    }));
  }
  // Longer than the pool's checkout timeout (5 s), sampling health all along.
  int not_serving = 0;
  for (int i = 0; i < 16; ++i) {
    absl::SleepFor(absl::Milliseconds(500));
    not_serving += http_.Call("GET", Url("/healthz")).status == 200 ? 0 : 1;
  }
  EXPECT_EQ(not_serving, 0) << server_->log();
  lock.abort();
  for (auto& call : waiting) call.get();  // they finish (or time out) once the lock is gone
}

TEST_F(OperationsE2eTest, RetentionShorterThanTheIdempotencyPromiseIsRefusedAtStart) {
  testing::ServerProcess server(
      BOOKING_SERVER_PATH, {"--grpc_addr=127.0.0.1:0", absl::StrCat("--database_url=", db_.url()),
                            "--event_retention=2h"});
  ASSERT_TRUE(server.Start().ok());
  absl::StatusOr<int> code = server.Stop(0, absl::Seconds(30));  // signal 0: just wait
  ASSERT_TRUE(code.ok()) << server.ReadLog();
  EXPECT_EQ(*code, 2);
  EXPECT_THAT(server.ReadLog(), HasSubstr("--event_retention: must be at least 24h"));
  EXPECT_EQ(db_.QueryValue("SELECT to_regclass('events') IS NULL"), "t") << "nothing was created";
}

TEST_F(OperationsE2eTest, MetricsNeedATokenWhenConfigured) {
  const std::string tokens =
      WriteTokens(absl::StrCat(::testing::TempDir(), "tokens-metrics-", getpid()), "tok-scraper\n");
  StartServer({absl::StrCat("--auth_tokens_file=", tokens), "--auth_metrics"});
  testing::HttpResult missing = http_.Call("GET", Url("/metrics"));
  EXPECT_EQ(missing.status, 401) << missing.body;
  EXPECT_EQ(missing.headers["www-authenticate"], "Bearer");
  EXPECT_THAT(missing.body, HasSubstr("\"code\":16"));
  EXPECT_EQ(http_.Call("GET", Url("/metrics"), "", {"Authorization: Bearer tok-wrong"}).status,
            401);
  testing::HttpResult scraped =
      http_.Call("GET", Url("/metrics"), "", {"Authorization: Bearer tok-scraper"});
  EXPECT_EQ(scraped.status, 200);
  EXPECT_THAT(scraped.body, HasSubstr("booking_db_pool_connections"));
  EXPECT_EQ(http_.Call("GET", Url("/health")).status, 200) << "health stays open";
}

}  // namespace
}  // namespace booking::e2e
