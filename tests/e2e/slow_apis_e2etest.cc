// What users of real receipts and spreadsheets APIs meet: answers after 250 ms, an API refusing
// connections for a minute, an API that times out on every call, and a crash in the middle of
// slow calls. The real binary against fakes that behave that way.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_external_apis.h"
#include "tests/support/bad_requests.h"
#include "tests/support/booking_server.h"
#include "tests/support/eventually.h"
#include "tests/support/load.h"
#include "tests/support/test_database.h"
#include "tickets/v1/admin.grpc.pb.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::e2e {
namespace {

using testing::FakeExternalApis;

using testing::Eventually;
constexpr auto& Count = testing::CountRows;

// Sends `calls` calls of `per_call` confirmed tickets from 8 concurrent clients; returns the
// ticket ids acknowledged and sets `last_ack` to when the last answer came.
std::set<std::string> SendTickets(const std::string& target, int calls, int per_call,
                                  const std::string& prefix, absl::Time* last_ack) {
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<int> next{0};
  std::vector<std::thread> clients;
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&] {
      auto stub = tickets::v1::BookingService::NewStub(channel);
      for (int call; (call = next++) < calls;) {
        tickets::v1::UpdateTicketsStatusRequest request =
            testing::ValidRequest(per_call, prefix, call * per_call);
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
        context.AddMetadata("idempotency-key", absl::StrCat(prefix, "-", call));
        tickets::v1::UpdateTicketsStatusResponse response;
        if (!stub->UpdateTicketsStatus(&context, request, &response).ok()) continue;
        std::lock_guard lock(mu);
        for (const auto& ticket : request.tickets()) acknowledged.insert(ticket.ticket_id());
        *last_ack = absl::Now();
      }
    });
  }
  for (auto& client : clients) client.join();
  return acknowledged;
}

std::multiset<std::string> TicketsOnSheet(const FakeExternalApis& api, const std::string& sheet) {
  std::multiset<std::string> tickets;
  for (const auto& row : api.rows(sheet)) tickets.insert(row.at(0));
  return tickets;
}

// The process's threads by name (/proc/PID/task/*/comm), e.g. {"http-receipts": 1, ...}.
std::map<std::string, int> ThreadNames(pid_t pid) {
  std::map<std::string, int> names;
  std::error_code error;
  for (const auto& task :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), error)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) ++names[name];
  }
  return names;
}

// A database, fakes of both APIs and the server pointed at them.
class SlowApisE2eTest : public ::testing::Test {
 protected:
  void SlowAnswers(absl::Duration delay) {
    receipts_.set_answer_delay(delay);
    sheets_.set_answer_delay(delay);
  }
  void Start(testing::ServerFlags extra = {}) {
    testing::ServerFlags flags = {"--receipts_url=" + receipts_.url(),
                                  "--spreadsheets_url=" + sheets_.url()};
    server_ = testing::BookingServer::Start(db_.url(), flags.Set(extra));
  }

  testing::TestDatabase db_;
  FakeExternalApis receipts_, sheets_;
  std::unique_ptr<testing::BookingServer> server_;
};

TEST_F(SlowApisE2eTest, AnswersAfter250MsGiveEveryTicketOnceWithinTenSeconds) {
  SlowAnswers(absl::Milliseconds(250));
  Start();
  absl::Time last_ack;
  const std::set<std::string> acknowledged =
      SendTickets(server_->target(), 100, 4, "a1b2c3d4", &last_ack);
  ASSERT_EQ(acknowledged.size(), 400u);
  // While the calls are in flight: one event loop thread per API, not a thread per call.
  ASSERT_TRUE(Eventually([&] { return receipts_.in_flight() >= 16; }, absl::Seconds(10)));
  const std::map<std::string, int> threads = ThreadNames(server_->process().pid());
  int total_threads = 0;
  for (const auto& [name, count] : threads) total_threads += count;
  EXPECT_EQ(threads.count("http-receipts") ? threads.at("http-receipts") : 0, 1);
  EXPECT_EQ(threads.count("http-sheets") ? threads.at("http-sheets") : 0, 1);
  for (const auto& [name, count] : threads) {
    EXPECT_FALSE(name.starts_with("receipts-") || name.starts_with("sheets-"))
        << "a calling thread of the old pool: " << name;
  }
  std::printf("[ figures  ] %d receipt calls in flight, the server has %d threads\n",
              receipts_.in_flight(), total_threads);

  EXPECT_TRUE(Eventually([&] { return Count(db_.url(), "tickets") == 400; }, absl::Seconds(30)));
  ASSERT_TRUE(Eventually(
      [&] {
        return receipts_.receipts_by_key().size() == 400 &&
               TicketsOnSheet(sheets_, "tickets-to-print").size() >= 400;
      },
      absl::Seconds(60)))
      << receipts_.receipts_by_key().size() << " receipts, "
      << TicketsOnSheet(sheets_, "tickets-to-print").size() << " print rows";
  const absl::Duration all_done = absl::Now() - last_ack;
  std::printf(
      "[ figures  ] 400 tickets, APIs answering after 250 ms: all receipts and rows %.2f s "
      "after the last acknowledgement; at most %d receipt and %d sheet calls at once\n",
      absl::ToDoubleSeconds(all_done), receipts_.max_in_flight(), sheets_.max_in_flight());
  EXPECT_LT(all_done, absl::Seconds(10));
  absl::SleepFor(absl::Milliseconds(500));  // nothing more arrives
  const std::multiset<std::string> printed = TicketsOnSheet(sheets_, "tickets-to-print");
  EXPECT_EQ(printed.size(), 400u) << "no duplicate rows";
  EXPECT_EQ(std::set<std::string>(printed.begin(), printed.end()), acknowledged);
  EXPECT_EQ(receipts_.requests_to("/receipts").size(), 400u) << "one call per receipt";
  EXPECT_GE(receipts_.max_in_flight(), 16) << "calls are concurrent";
  EXPECT_LE(receipts_.max_in_flight(), 32) << "and bounded";
  EXPECT_EQ(Count(db_.url(), "dead_letters"), 0);
}

TEST_F(SlowApisE2eTest, StoredWithinASecondWhileTheApisAreSlow) {
  SlowAnswers(absl::Milliseconds(250));
  Start();
  absl::Time last_ack;
  ASSERT_EQ(SendTickets(server_->target(), 100, 4, "b1b2c3d4", &last_ack).size(), 400u);
  EXPECT_TRUE(Eventually([&] { return Count(db_.url(), "tickets") == 400; }, absl::Seconds(30)));
  const absl::Duration stored = absl::Now() - last_ack;
  std::printf("[ figures  ] every ticket stored %.0f ms after the last acknowledgement\n",
              absl::ToDoubleMilliseconds(stored));
  EXPECT_LT(stored, absl::Seconds(1)) << "StoreTickets does not wait for the slow APIs";
}

TEST_F(SlowApisE2eTest, ReceiptsApiRefusingForAMinuteHealsWithoutDeadLetters) {
  Start({"--retry_max_delay=5s"});
  receipts_.SetRefusing(true);
  const absl::Time outage_start = absl::Now();
  absl::Time last_ack;
  const std::set<std::string> acknowledged =
      SendTickets(server_->target(), 50, 2, "c1b2c3d4", &last_ack);
  ASSERT_EQ(acknowledged.size(), 100u);
  // Meanwhile the other handlers go on as if nothing happened.
  EXPECT_TRUE(Eventually(
      [&] {
        return Count(db_.url(), "tickets") == 100 &&
               TicketsOnSheet(sheets_, "tickets-to-print").size() == 100;
      },
      absl::Seconds(5)));
  EXPECT_EQ(receipts_.receipts_by_key().size(), 0u);
  // Refused connections are the API's failure, not any event's: the lane pauses, nothing is
  // parked however long it lasts.
  long long parked = 0;
  while (absl::Now() - outage_start < absl::Seconds(60)) {
    parked = std::max(parked, Count(db_.url(), "deliveries"));
    absl::SleepFor(absl::Milliseconds(500));
  }
  EXPECT_EQ(parked, 0) << "no parking storm";
  EXPECT_EQ(Count(db_.url(), "dead_letters"), 0);
  auto admin = tickets::v1::AdminService::NewStub(server_->channel());
  {
    grpc::ClientContext context;
    tickets::v1::GetHandlerStatusResponse status;
    ASSERT_TRUE(admin->GetHandlerStatus(&context, {}, &status).ok());
    bool seen = false;
    for (const auto& handler : status.handlers()) {
      if (handler.handler() != "IssueReceipt") continue;
      seen = true;
      EXPECT_EQ(handler.lag(), 100);
      EXPECT_NE(handler.breaker(), "closed");
      EXPECT_GT(handler.retry_backlog(), 0);
      EXPECT_THAT(handler.last_error(), ::testing::HasSubstr("UNAVAILABLE"));
    }
    EXPECT_TRUE(seen);
  }
  receipts_.SetRefusing(false);
  const absl::Time back = absl::Now();
  ASSERT_TRUE(
      Eventually([&] { return receipts_.receipts_by_key().size() == 100; }, absl::Seconds(30)));
  std::printf(
      "[ figures  ] receipts API back after 60 s of refused connections: all 100 "
      "receipts %.1f s later, %zu calls answered in all\n",
      absl::ToDoubleSeconds(absl::Now() - back), receipts_.requests().size());
  EXPECT_TRUE(
      Eventually([&] { return Count(db_.url(), "pending_deliveries") == 0; }, absl::Seconds(10)));
  EXPECT_EQ(Count(db_.url(), "dead_letters"), 0);
}

TEST_F(SlowApisE2eTest, AnApiThatTimesOutIsProbedNotHammered) {
  receipts_.set_slow_delay(absl::Seconds(10));
  receipts_.FailRandomly(0, /*p_slow=*/1.0, 7);  // every call outlives the client's timeout
  Start({"--http_timeout=1s", "--shutdown_timeout=3s"});
  absl::Time last_ack;
  ASSERT_EQ(SendTickets(server_->target(), 100, 2, "d1b2c3d4", &last_ack).size(), 200u);
  const absl::Time start = absl::Now();
  EXPECT_TRUE(Eventually([&] { return Count(db_.url(), "tickets") == 200; }, absl::Seconds(5)))
      << "the other handlers are not held";
  absl::SleepFor(absl::Seconds(30) - (absl::Now() - start));
  const size_t calls = receipts_.requests_to("/receipts").size();
  std::printf("[ figures  ] API timing out on every call: %zu calls reached it in 30 s\n", calls);
  EXPECT_LE(calls, 100u) << "the breaker probes instead of sending every event";
  EXPECT_GE(calls, 5u) << "but it keeps probing";
  EXPECT_EQ(Count(db_.url(), "dead_letters"), 0);
  // A stop is held by at most one call's timeout.
  const absl::Time stop = absl::Now();
  const absl::Status stopped = server_->Stop(absl::Seconds(15));
  EXPECT_TRUE(stopped.ok()) << stopped;
  EXPECT_LT(absl::Now() - stop, absl::Seconds(4));
}

TEST_F(SlowApisE2eTest, KilledAmidSlowCallsEveryAcknowledgedTicketIsFinished) {
  SlowAnswers(absl::Milliseconds(250));
  Start({"--delivery_lease=2s"});
  std::set<std::string> acknowledged;
  {
    testing::Load load({server_->target()}, 4, "e1b2c3d4");
    ASSERT_TRUE(Eventually([&] { return load.acknowledged().size() >= 300; }, absl::Seconds(30)));
    ASSERT_TRUE(Eventually([&] { return sheets_.rows("tickets-to-print").size() >= 64; },
                           absl::Seconds(30)));
    ASSERT_TRUE(server_->Kill().ok());
    load.Stop();
    acknowledged = load.acknowledged();
  }
  Start({"--delivery_lease=2s"});
  ASSERT_TRUE(
      Eventually([&] { return Count(db_.url(), "pending_deliveries") == 0; }, absl::Seconds(90)));
  // Calls committed just before the kill may not have been answered: at least the acknowledged.
  EXPECT_GE(Count(db_.url(), "tickets"), static_cast<long long>(acknowledged.size()));
  std::set<std::string> stored;  // one query, not one connection per ticket
  {
    pqxx::connection conn(db_.url());
    pqxx::nontransaction txn(conn);
    for (const auto& row : txn.exec("SELECT ticket_id::text FROM tickets")) {
      stored.insert(row[0].as<std::string>());
    }
  }
  for (const std::string& id : acknowledged) EXPECT_TRUE(stored.count(id)) << id;
  const std::map<std::string, std::string> issued = receipts_.receipts_by_key();
  std::set<std::string> receipted;
  for (const auto& [key, number] : issued) receipted.insert(key.substr(key.rfind('/') + 1));
  for (const std::string& id : acknowledged) EXPECT_TRUE(receipted.count(id)) << id;
  const std::multiset<std::string> printed = TicketsOnSheet(sheets_, "tickets-to-print");
  const std::set<std::string> distinct(printed.begin(), printed.end());
  for (const std::string& id : acknowledged) EXPECT_TRUE(distinct.count(id)) << id;
  const size_t duplicates = printed.size() - distinct.size();
  std::printf(
      "[ figures  ] kill -9 amid 250 ms calls: %zu acknowledged, %zu duplicate print "
      "rows (calls in flight at most %d)\n",
      acknowledged.size(), duplicates, sheets_.max_in_flight());
  EXPECT_LE(duplicates, 32u) << "at most one chunk of calls, those in flight at the kill";
  EXPECT_EQ(Count(db_.url(), "dead_letters"), 0);
}

}  // namespace
}  // namespace booking::e2e
