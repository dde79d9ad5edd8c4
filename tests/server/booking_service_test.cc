// BookingService over a real in-process gRPC channel, with an event log that records what it is
// given and an in-memory repository: what callers see, and what gets published.
#include "server/booking_service.h"

#include <grpcpp/grpcpp.h>

#include <future>
#include <mutex>

#include "absl/strings/ascii.h"
#include "common/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/memory_ticket_repository.h"
#include "tests/support/bad_requests.h"

namespace booking::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class RecordingEventLog final : public pipeline::EventLog {
 public:
  using pipeline::EventLog::Append;
  void Append(pipeline::CallIdentity call, std::vector<domain::Event> events,
              AppendCallback done) override {
    absl::StatusOr<pipeline::AppendResult> result;
    {
      std::lock_guard lock(mu_);
      calls_.push_back(call);
      if (!fail_with_.ok()) {
        result = fail_with_;
      } else {
        result = pipeline::AppendResult{static_cast<int>(events.size())};
        for (auto& event : events) events_.push_back(std::move(event));
      }
      if (hold_) {
        held_.push_back([done = std::move(done), result]() mutable { std::move(done)(result); });
        return;
      }
    }
    std::move(done)(std::move(result));
  }
  std::vector<domain::Event> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::vector<pipeline::CallIdentity> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  void FailWith(absl::Status status) {
    std::lock_guard lock(mu_);
    fail_with_ = std::move(status);
  }
  // Appends wait (their callbacks are kept) until Release().
  void Hold() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  size_t held() {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  void Release() {
    std::vector<absl::AnyInvocable<void() &&>> held;
    {
      std::lock_guard lock(mu_);
      hold_ = false;
      held.swap(held_);
    }
    for (auto& run : held) std::move(run)();
  }

 private:
  std::mutex mu_;
  std::vector<domain::Event> events_ ABSL_GUARDED_BY(mu_);
  std::vector<pipeline::CallIdentity> calls_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_with_ ABSL_GUARDED_BY(mu_);
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<absl::AnyInvocable<void() &&>> held_ ABSL_GUARDED_BY(mu_);
};

class BookingServiceTest : public ::testing::Test {
 protected:
  BookingServiceTest() : reads_(1, 16), service_(log_, repository_, reads_, {}) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ =
        tickets::v1::BookingService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  ~BookingServiceTest() override {
    server_->Shutdown();
    reads_.Stop();
  }

  grpc::Status Update(const tickets::v1::UpdateTicketsStatusRequest& request,
                      const std::string& key = "key-1", grpc::ClientContext* context = nullptr) {
    grpc::ClientContext local;
    if (context == nullptr) context = &local;
    if (!key.empty()) context->AddMetadata("idempotency-key", key);
    tickets::v1::UpdateTicketsStatusResponse response;
    return stub_->UpdateTicketsStatus(context, request, &response);
  }

  void Store(const std::string& id, const std::string& status, int64_t sequence) {
    domain::Ticket record{id, "ann@example.com", "10.00", "EUR", status, "", sequence, {}};
    ASSERT_TRUE(repository_.Upsert({record}).ok());
  }

  RecordingEventLog log_;
  testing::MemoryTicketRepository repository_;
  QueryExecutor reads_;
  BookingService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<tickets::v1::BookingService::Stub> stub_;
};

TEST_F(BookingServiceTest, PublishesOneEventPerTicket) {
  grpc::ClientContext context;
  context.AddMetadata("correlation-id", "corr-77");
  context.AddMetadata("idempotency-key", "key-9");
  tickets::v1::UpdateTicketsStatusResponse response;
  grpc::Status status = stub_->UpdateTicketsStatus(&context, testing::ValidRequest(3), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.accepted_events(), 3);
  std::vector<domain::Event> events = log_.events();
  ASSERT_EQ(events.size(), 3u);
  for (const auto& event : events) {
    EXPECT_EQ(event.correlation_id, "corr-77");
    EXPECT_THAT(event.idempotency_key, StartsWith("key-9/"));
  }
  auto echoed = context.GetServerInitialMetadata().find("correlation-id");
  ASSERT_NE(echoed, context.GetServerInitialMetadata().end());
  EXPECT_EQ(std::string(echoed->second.data(), echoed->second.size()), "corr-77");
}

TEST_F(BookingServiceTest, GeneratesAndEchoesCorrelationId) {
  grpc::ClientContext context;
  ASSERT_TRUE(Update(testing::ValidRequest(), "k", &context).ok());
  auto echoed = context.GetServerInitialMetadata().find("correlation-id");
  ASSERT_NE(echoed, context.GetServerInitialMetadata().end());
  const std::string id(echoed->second.data(), echoed->second.size());
  EXPECT_TRUE(common::IsUuid(id)) << id;
  EXPECT_EQ(log_.events().at(0).correlation_id, id);
}

TEST_F(BookingServiceTest, IdempotencyKeyFromRequestField) {
  auto request = testing::ValidRequest();
  request.set_idempotency_key("field-key");
  ASSERT_TRUE(Update(request, "").ok());
  EXPECT_THAT(log_.events().at(0).idempotency_key, StartsWith("field-key/"));
}

TEST_F(BookingServiceTest, MissingIdempotencyKeyPublishesNothing) {
  grpc::Status status = Update(testing::ValidRequest(), "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("idempotency_key: "));
  EXPECT_TRUE(log_.events().empty());
}

// The fingerprint names the request: equal for equal requests (ids in any case), different when
// anything in a ticket differs.
TEST_F(BookingServiceTest, CallCarriesItsKeyAndRequestFingerprint) {
  auto request = testing::ValidRequest(2);
  ASSERT_TRUE(Update(request, "fp-1").ok());
  auto upper = request;
  upper.mutable_tickets(0)->set_ticket_id(absl::AsciiStrToUpper(request.tickets(0).ticket_id()));
  ASSERT_TRUE(Update(upper, "fp-2").ok());
  auto other = request;
  other.mutable_tickets(1)->mutable_price()->set_amount("99.99");
  ASSERT_TRUE(Update(other, "fp-3").ok());
  std::vector<pipeline::CallIdentity> calls = log_.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].idempotency_key, "fp-1");
  EXPECT_EQ(calls[0].fingerprint.size(), 16u) << "SHA-256's first 128 bits";
  EXPECT_EQ(calls[0].fingerprint, calls[1].fingerprint);
  EXPECT_NE(calls[0].fingerprint, calls[2].fingerprint);
}

// Concurrent calls with one key: only the first reaches the log; the same request gets the first
// answer, a different one is refused as a reused key. No thread waits meanwhile.
TEST_F(BookingServiceTest, ConcurrentCallsWithOneKeyReachTheLogOnce) {
  log_.Hold();
  auto request = testing::ValidRequest(3);
  auto different = testing::ValidRequest(1);
  std::vector<std::future<std::pair<grpc::Status, int>>> calls;
  for (int i = 0; i < 8; ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      grpc::ClientContext context;
      context.AddMetadata("idempotency-key", "same-key");
      tickets::v1::UpdateTicketsStatusResponse response;
      grpc::Status status =
          stub_->UpdateTicketsStatus(&context, i == 7 ? different : request, &response);
      return std::make_pair(status, response.accepted_events());
    }));
    if (i == 0) {
      for (int wait = 0; wait < 500 && log_.held() == 0; ++wait)
        absl::SleepFor(absl::Milliseconds(2));
    }
  }
  absl::SleepFor(absl::Milliseconds(200));  // let the others arrive and queue behind the first
  EXPECT_EQ(log_.calls().size(), 1u);
  log_.Release();
  int ok = 0, refused = 0;
  for (auto& call : calls) {
    auto [status, accepted] = call.get();
    if (status.ok()) {
      ++ok;
      EXPECT_EQ(accepted, 3) << "the first call's answer";
    } else {
      ++refused;
      EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
      EXPECT_THAT(status.error_message(), HasSubstr("same-key"));
    }
  }
  EXPECT_EQ(ok, 7);
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(log_.calls().size(), 1u) << "nothing else reached the log";
  EXPECT_EQ(log_.events().size(), 3u);
}

class BookingServiceRuleTest : public BookingServiceTest,
                               public ::testing::WithParamInterface<testing::BadRequest> {};

TEST_P(BookingServiceRuleTest, RejectsNamingFieldAndPublishesNothing) {
  auto request = testing::ValidRequest(3);
  GetParam().mutate(request);
  grpc::Status status = Update(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith(GetParam().field + ": "));
  EXPECT_TRUE(log_.events().empty());
}

INSTANTIATE_TEST_SUITE_P(Rules, BookingServiceRuleTest,
                         ::testing::ValuesIn(testing::BadRequestsByRule()),
                         [](const auto& info) { return info.param.name; });

// The bytes of the requests held (until answered) are bounded, not only their number: a call
// that would pass the bound is refused before it publishes anything; an answered one frees its
// share.
TEST_F(BookingServiceTest, RequestBytesInProgressAreBounded) {
  const auto big = testing::ValidRequest(20);  // about 2 KB
  BookingServiceOptions options;
  options.max_call_bytes = big.ByteSizeLong() + 100;
  BookingService bounded(log_, repository_, reads_, options);
  grpc::ServerBuilder builder;
  builder.RegisterService(&bounded);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = tickets::v1::BookingService::NewStub(server->InProcessChannel({}));
  auto call = [&](const std::string& key) {
    grpc::ClientContext context;
    context.AddMetadata("idempotency-key", key);
    tickets::v1::UpdateTicketsStatusResponse response;
    return stub->UpdateTicketsStatus(&context, big, &response);
  };
  log_.Hold();
  std::future<grpc::Status> first = std::async(std::launch::async, [&] { return call("b-1"); });
  for (int wait = 0; wait < 500 && log_.held() == 0; ++wait) absl::SleepFor(absl::Milliseconds(2));
  ASSERT_EQ(log_.held(), 1u);
  const grpc::Status second = call("b-2");
  EXPECT_EQ(second.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(second.error_message(), HasSubstr("max_call_bytes"));
  EXPECT_EQ(log_.calls().size(), 1u) << "the refused call published nothing";
  log_.Release();
  EXPECT_TRUE(first.get().ok());
  EXPECT_TRUE(call("b-3").ok()) << "the first call's bytes are free again";
  server->Shutdown();
}

TEST_F(BookingServiceTest, LogFailureFailsTheCall) {
  log_.FailWith(absl::UnavailableError("database down"));
  grpc::Status status = Update(testing::ValidRequest());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("database down"));
}

TEST_F(BookingServiceTest, ListPagesSkippingCanceled) {
  for (int i = 0; i < 5; ++i) {
    Store(absl::StrCat("00000000-0000-4000-8000-00000000000", i), i == 2 ? "canceled" : "confirmed",
          i + 1);
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext context;
    tickets::v1::ListTicketsRequest request;
    request.set_page_size(2);
    request.set_page_token(token);
    tickets::v1::ListTicketsResponse response;
    ASSERT_TRUE(stub_->ListTickets(&context, request, &response).ok());
    for (const auto& ticket : response.tickets()) seen.push_back(ticket.ticket_id());
    token = response.next_page_token();
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(pages, 2);
  EXPECT_THAT(seen, ::testing::ElementsAre("00000000-0000-4000-8000-000000000000",
                                           "00000000-0000-4000-8000-000000000001",
                                           "00000000-0000-4000-8000-000000000003",
                                           "00000000-0000-4000-8000-000000000004"));
}

TEST_F(BookingServiceTest, ListRejectsBadPaging) {
  grpc::ClientContext context;
  tickets::v1::ListTicketsRequest request;
  request.set_page_token("not-a-token");
  tickets::v1::ListTicketsResponse response;
  grpc::Status status = stub_->ListTickets(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("page_token: "));

  grpc::ClientContext context2;
  request.Clear();
  request.set_page_size(-1);
  status = stub_->ListTickets(&context2, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("page_size: "));
}

TEST_F(BookingServiceTest, GetTicket) {
  Store("00000000-0000-4000-8000-000000000001", "canceled", 3);
  grpc::ClientContext context;
  tickets::v1::GetTicketRequest request;
  request.set_ticket_id("00000000-0000-4000-8000-000000000001");
  tickets::v1::Ticket ticket;
  ASSERT_TRUE(stub_->GetTicket(&context, request, &ticket).ok());
  EXPECT_EQ(ticket.status(), "canceled");
  EXPECT_EQ(ticket.price().amount(), "10.00");
  EXPECT_EQ(ticket.price().currency(), "EUR");

  grpc::ClientContext missing;
  request.set_ticket_id("00000000-0000-4000-8000-000000000002");
  EXPECT_EQ(stub_->GetTicket(&missing, request, &ticket).error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext bad;
  request.set_ticket_id("nope");
  grpc::Status status = stub_->GetTicket(&bad, request, &ticket);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("ticket_id: "));
}

TEST_F(BookingServiceTest, ReadFailureIsReported) {
  repository_.FailWith(absl::UnavailableError("postgres down"));
  grpc::ClientContext context;
  tickets::v1::ListTicketsRequest request;
  tickets::v1::ListTicketsResponse response;
  EXPECT_EQ(stub_->ListTickets(&context, request, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace booking::server
