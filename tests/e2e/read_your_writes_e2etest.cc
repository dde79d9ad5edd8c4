// Reading one's own writes against the real binary: UpdateTicketsStatus with STORED or
// COMPLETED answers once the handlers have done the work (GetTicket then finds the ticket), and a
// wait that reaches its bound answers, without error, with how far each ticket got.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_external_apis.h"
#include "tests/support/bad_requests.h"
#include "tests/support/booking_server.h"
#include "tests/support/http_call.h"
#include "tests/support/test_database.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using Request = tickets::v1::UpdateTicketsStatusRequest;

class ReadYourWritesE2eTest : public ::testing::Test {
 protected:
  void StartServer(testing::ServerFlags flags) {
    server_ = testing::BookingServer::Start(db_.url(), std::move(flags));
    ASSERT_TRUE(server_->ready());
    stub_ = tickets::v1::BookingService::NewStub(server_->channel());
  }
  std::string Target() const { return server_->target(); }

  grpc::Status Update(Request request, Request::Consistency consistency, const std::string& key,
                      tickets::v1::UpdateTicketsStatusResponse* response,
                      absl::Duration deadline = absl::Seconds(30)) {
    request.set_consistency(consistency);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    context.AddMetadata("idempotency-key", key);
    return stub_->UpdateTicketsStatus(&context, request, response);
  }

  testing::TestDatabase db_;
  std::unique_ptr<testing::BookingServer> server_;
  std::unique_ptr<tickets::v1::BookingService::Stub> stub_;
};

// The issue's figure: with STORED, GetTicket right after the answer finds the ticket in 1,000
// calls of 1,000 (eight clients at once).
TEST_F(ReadYourWritesE2eTest, StoredThenGetTicketFindsEveryTicket) {
  StartServer({});
  std::atomic<int> found{0}, reached{0}, failed{0};
  std::mutex mu;
  std::vector<double> took_ms;
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 125; ++i) {
        const int number = c * 1000 + i;
        Request request = testing::ValidRequest(1, "b7000000", number);
        tickets::v1::UpdateTicketsStatusResponse response;
        const absl::Time start = absl::Now();
        grpc::Status status =
            Update(request, Request::STORED, absl::StrCat("ryw-", number), &response);
        {
          std::lock_guard lock(mu);
          took_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
        }
        if (!status.ok()) {
          ++failed;
          continue;
        }
        reached += response.consistency_reached() ? 1 : 0;
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
        tickets::v1::GetTicketRequest get;
        get.set_ticket_id(request.tickets(0).ticket_id());
        tickets::v1::Ticket ticket;
        if (stub_->GetTicket(&context, get, &ticket).ok()) ++found;
      }
    });
  }
  for (std::thread& client : clients) client.join();
  ASSERT_EQ(took_ms.size(), 1000u);
  std::sort(took_ms.begin(), took_ms.end());
  std::printf("STORED calls (8 clients): p50 %.1f ms, p99 %.1f ms\n", took_ms[took_ms.size() / 2],
              took_ms[took_ms.size() * 99 / 100]);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(reached.load(), 1000);
  EXPECT_EQ(found.load(), 1000);
}

// COMPLETED waits for every handler, through a receipts API that answers after 250 ms; the
// answer lists the handlers per ticket. ACCEPTED (the default) does not wait.
TEST_F(ReadYourWritesE2eTest, CompletedWaitsForTheSlowApiAndSaysWhoFinished) {
  testing::FakeExternalApis receipts;
  receipts.set_answer_delay(absl::Milliseconds(250));
  StartServer({"--receipts_url=" + receipts.url()});

  tickets::v1::UpdateTicketsStatusResponse accepted;
  absl::Time start = absl::Now();
  ASSERT_TRUE(
      Update(testing::ValidRequest(2, "b7100000"), Request::ACCEPTED, "c-1", &accepted).ok());
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(250)) << "ACCEPTED does not wait";
  EXPECT_EQ(accepted.progress_size(), 0);

  tickets::v1::UpdateTicketsStatusResponse completed;
  start = absl::Now();
  ASSERT_TRUE(
      Update(testing::ValidRequest(2, "b7200000"), Request::COMPLETED, "c-2", &completed).ok());
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(250)) << "the receipt takes 250 ms";
  EXPECT_TRUE(completed.consistency_reached());
  ASSERT_EQ(completed.progress_size(), 2);
  for (const tickets::v1::TicketProgress& ticket : completed.progress()) {
    EXPECT_THAT(ticket.finished_handlers(),
                UnorderedElementsAre("StoreTickets", "IssueReceipt", "AppendToTracker"));
    EXPECT_TRUE(ticket.pending_handlers().empty());
  }
  EXPECT_EQ(completed.progress(0).ticket_id(), "b7200000-0b7d-4e2a-9c11-000000000000");
  EXPECT_EQ(receipts.receipts_by_key().size(), 4u) << "both calls' tickets";
}

// The receipts API refuses connections: STORED is reached at once, COMPLETED only reaches
// --max_wait, and answers (OK, not an error) that the receipt is still pending.
TEST_F(ReadYourWritesE2eTest, ABoundReachedIsAnAnswerWithTheProgress) {
  testing::FakeExternalApis receipts;
  receipts.SetRefusing(true);
  StartServer({"--receipts_url=" + receipts.url(), "--max_wait=3s"});
  // On a busy machine the lanes may take longer than the bound to start: once one STORED
  // call is reached, they run, and what follows measures the bound, not the start-up.
  bool running = false;
  for (int i = 0; i < 30 && !running; ++i) {
    tickets::v1::UpdateTicketsStatusResponse warm;
    ASSERT_TRUE(Update(testing::ValidRequest(1, "b7200000", i), Request::STORED,
                       absl::StrCat("warm-", i), &warm)
                    .ok());
    running = warm.consistency_reached();
  }
  ASSERT_TRUE(running) << "the handlers never stored a ticket within 30 tries";

  tickets::v1::UpdateTicketsStatusResponse stored;
  ASSERT_TRUE(Update(testing::ValidRequest(1, "b7300000"), Request::STORED, "b-1", &stored).ok());
  EXPECT_TRUE(stored.consistency_reached());

  tickets::v1::UpdateTicketsStatusResponse completed;
  const absl::Time start = absl::Now();
  grpc::Status status =
      Update(testing::ValidRequest(1, "b7400000"), Request::COMPLETED, "b-2", &completed);
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GE(took, absl::Milliseconds(2950));
  EXPECT_LT(took, absl::Seconds(6));
  EXPECT_FALSE(completed.consistency_reached());
  ASSERT_EQ(completed.progress_size(), 1);
  EXPECT_THAT(completed.progress(0).pending_handlers(), UnorderedElementsAre("IssueReceipt"));
  EXPECT_THAT(completed.progress(0).finished_handlers(),
              UnorderedElementsAre("StoreTickets", "AppendToTracker"));

  // A shorter client deadline bounds the wait too: the answer comes before it, not
  // DEADLINE_EXCEEDED.
  tickets::v1::UpdateTicketsStatusResponse short_wait;
  status = Update(testing::ValidRequest(1, "b7500000"), Request::COMPLETED, "b-3", &short_wait,
                  absl::Milliseconds(800));
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_FALSE(short_wait.consistency_reached());

  // A retry of the same call (same key) waits on the events the first one published.
  tickets::v1::UpdateTicketsStatusResponse replay;
  ASSERT_TRUE(
      Update(testing::ValidRequest(1, "b7300000"), Request::COMPLETED, "b-1", &replay).ok());
  ASSERT_EQ(replay.progress_size(), 1);
  EXPECT_THAT(replay.progress(0).finished_handlers(),
              UnorderedElementsAre("StoreTickets", "AppendToTracker"));
}

// A handler that gives up (the API refuses the request: a dead letter) ends the wait: COMPLETED
// counts it as done with, and the answer names it.
TEST_F(ReadYourWritesE2eTest, ADeadLetterEndsTheWaitAndIsNamed) {
  testing::FakeExternalApis receipts;
  receipts.FailNext(1, testing::Fault::kHostile400);
  StartServer({"--receipts_url=" + receipts.url()});
  tickets::v1::UpdateTicketsStatusResponse completed;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(
      Update(testing::ValidRequest(1, "b7700000"), Request::COMPLETED, "d-1", &completed).ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "not the 10 s bound";
  EXPECT_TRUE(completed.consistency_reached());
  ASSERT_EQ(completed.progress_size(), 1);
  EXPECT_THAT(completed.progress(0).dead_lettered_handlers(), UnorderedElementsAre("IssueReceipt"));
  EXPECT_THAT(completed.progress(0).finished_handlers(),
              UnorderedElementsAre("StoreTickets", "AppendToTracker"));
}

// Over REST: the field, or `Prefer: wait=stored`; an unknown level names the field.
TEST_F(ReadYourWritesE2eTest, RestWaitsWithTheFieldOrThePreferHeader) {
  StartServer({});
  testing::HttpCaller http;
  const std::string url = server_->url("/v1/tickets-status");
  const auto body = [](int n, const std::string& extra) {
    return absl::StrCat(R"({"tickets":[{"ticket_id":"b7600000-0b7d-4e2a-9c11-00000000000)", n,
                        R"(","status":"confirmed","customer_email":"ann@example.com",)",
                        R"("price":{"amount":"10.00","currency":"EUR"}}])", extra, "}");
  };
  testing::HttpResult preferred =
      http.Call("POST", url, body(1, ""),
                {"Content-Type: application/json", "Idempotency-Key: r-1", "Prefer: wait=stored"});
  EXPECT_EQ(preferred.status, 200) << preferred.body;
  EXPECT_THAT(preferred.body, HasSubstr("\"consistency_reached\":true"));
  EXPECT_THAT(preferred.body, HasSubstr("\"finished_handlers\""));
  EXPECT_EQ(http.Call("GET", absl::StrCat(server_->url(),
                                          "/v1/tickets/b7600000-0b7d-4e2a-9c11-000000000001"))
                .status,
            200);

  testing::HttpResult field = http.Call("POST", url, body(2, R"(,"consistency":"COMPLETED")"),
                                        {"Content-Type: application/json", "Idempotency-Key: r-2"});
  EXPECT_EQ(field.status, 200) << field.body;
  EXPECT_THAT(field.body, HasSubstr("\"consistency_reached\":true"));

  testing::HttpResult plain = http.Call("POST", url, body(3, ""),
                                        {"Content-Type: application/json", "Idempotency-Key: r-3"});
  EXPECT_EQ(plain.status, 200);
  // ACCEPTED by default: no wait, so no progress (REST prints the empty list and the false).
  EXPECT_THAT(plain.body, HasSubstr("\"progress\":[]")) << "ACCEPTED by default";
  EXPECT_THAT(plain.body, HasSubstr("\"consistency_reached\":false"));

  testing::HttpResult bad = http.Call("POST", url, body(4, R"(,"consistency":"SOON")"),
                                      {"Content-Type: application/json", "Idempotency-Key: r-4"});
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("consistency"));
}

}  // namespace
}  // namespace booking::e2e
