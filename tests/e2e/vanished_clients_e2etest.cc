// Clients that vanish mid-stream or ask for too much, against the real binary: connection and
// watch slots come back within seconds, whatever the stream's format and however quiet its
// ticket; calls that wait for the handlers are bounded in number and in memory.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/bad_requests.h"
#include "tests/support/eventually.h"
#include "tests/support/http_call.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"
#include "tickets/v1/booking.grpc.pb.h"

extern char** environ;

namespace booking::e2e {
namespace {

constexpr char kQuietTicket[] = "7d3f0c1e-2b4a-4c6d-8e9f-0a1b2c3d4e5f";

class VanishedClientsE2eTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> extra) {
    grpc_port_ = testing::PickFreePort();
    http_port_ = testing::PickFreePort();
    std::vector<std::string> args = {absl::StrCat("--grpc_addr=127.0.0.1:", grpc_port_),
                                     absl::StrCat("--http_addr=127.0.0.1:", http_port_),
                                     absl::StrCat("--database_url=", db_.url())};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<testing::ServerProcess>(BOOKING_SERVER_PATH, args);
    ASSERT_TRUE(server_->Start().ok());
    absl::Status serving =
        server_->WaitUntilServing(absl::StrCat("127.0.0.1:", grpc_port_), absl::Seconds(30));
    ASSERT_TRUE(serving.ok()) << serving;
  }

  void TearDown() override {
    for (pid_t pid : clients_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (server_ != nullptr && server_->running()) {
      absl::StatusOr<int> code = server_->Stop(SIGTERM, absl::Seconds(30));
      EXPECT_TRUE(code.ok() && *code == 0) << server_->ReadLog();
    }
  }

  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", http_port_, path);
  }

  // curl reading `url` as a user would (no Accept header: NDJSON), its output thrown away.
  pid_t SpawnCurl(const std::string& url) {
    std::vector<std::string> args = {"curl", "-sN", "-o", "/dev/null", url};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    EXPECT_EQ(posix_spawnp(&pid, "curl", nullptr, nullptr, argv.data(), environ), 0);
    clients_.push_back(pid);
    return pid;
  }

  void KillClients() {
    for (pid_t pid : clients_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    clients_.clear();
  }

  // A gauge's value from GET /metrics (-1 if the scrape fails or it is absent).
  double Gauge(const std::string& name) {
    testing::HttpCaller http;
    testing::HttpResult metrics = http.Call("GET", Url("/metrics"));
    if (metrics.status != 200) return -1;
    for (absl::string_view line : absl::StrSplit(metrics.body, '\n')) {
      if (absl::StartsWith(line, absl::StrCat(name, " "))) {
        double value = -1;
        if (absl::SimpleAtod(line.substr(name.size() + 1), &value)) return value;
      }
    }
    return -1;
  }

  testing::TestDatabase db_;
  std::unique_ptr<testing::ServerProcess> server_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  std::vector<pid_t> clients_;
};

// The scenario: as many NDJSON watchers of a ticket that never changes as there are
// connection slots, then they all vanish. Their slots must come back: /health answers again
// within 10 s and no connection stays open.
TEST_F(VanishedClientsE2eTest, VanishedNdjsonWatchersGiveTheirSlotsBack) {
  StartServer({"--max_http_connections=20"});
  const std::string watch = Url(absl::StrCat("/v1/tickets:watch?ticket_ids=", kQuietTicket));
  for (int i = 0; i < 20; ++i) SpawnCurl(watch);
  // Each probe on a new connection (a kept-alive one would hold a slot of its own).
  auto health = [this] { return testing::HttpCaller().Call("GET", Url("/health")).status; };
  const absl::Time full_by = absl::Now() + absl::Seconds(20);
  while (health() == 200 && absl::Now() < full_by) absl::SleepFor(absl::Milliseconds(100));
  ASSERT_EQ(health(), 503) << "all 20 slots are held";

  KillClients();
  const absl::Time killed = absl::Now();
  long status = 0;
  while ((status = health()) != 200 && absl::Now() - killed < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  const absl::Duration back_after = absl::Now() - killed;
  EXPECT_EQ(status, 200) << "within 10 s of the clients vanishing\n" << server_->ReadLog();
  std::printf("health answered again %s after the NDJSON watchers vanished\n",
              absl::FormatDuration(back_after).c_str());
  // Every slot, not just the first: within the same 10 s, only the scrape's own connection stays
  // open (/health answers as soon as one slot is free, while others may still be closing).
  EXPECT_TRUE(testing::Eventually(
      [this] {
        return Gauge("booking_http_open_connections") == 1 && Gauge("booking_watch_streams") == 0;
      },
      absl::Seconds(10) - (absl::Now() - killed)))
      << "open connections " << Gauge("booking_http_open_connections") << ", watch streams "
      << Gauge("booking_watch_streams");
}

// A gRPC watcher whose network goes silent (a proxy frozen with SIGSTOP: its kernel still
// acknowledges, nothing answers) loses its stream, and the instance its watch slot, within
// the keepalive bound: --grpc_keepalive_time + --grpc_keepalive_timeout.
TEST_F(VanishedClientsE2eTest, SilentGrpcWatcherIsDroppedWithinTheKeepaliveBound) {
  StartServer({"--grpc_keepalive_time=1s", "--grpc_keepalive_timeout=1s"});
  const int proxy_port = testing::PickFreePort();
  testing::ServerProcess proxy(TCP_PROXY_PATH,
                               {std::to_string(proxy_port), std::to_string(grpc_port_)});
  ASSERT_TRUE(proxy.Start().ok());
  auto stub = tickets::v1::BookingService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", proxy_port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_wait_for_ready(true);  // the proxy may not listen yet
  tickets::v1::WatchTicketsRequest request;
  request.add_ticket_ids(kQuietTicket);
  std::unique_ptr<grpc::ClientReader<tickets::v1::TicketStep>> reader =
      stub->WatchTickets(&context, request);
  const absl::Time open_by = absl::Now() + absl::Seconds(20);
  while (Gauge("booking_watch_streams") != 1 && absl::Now() < open_by) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(Gauge("booking_watch_streams"), 1) << server_->ReadLog();

  ASSERT_EQ(::kill(proxy.pid(), SIGSTOP), 0);
  const absl::Time frozen = absl::Now();
  while (Gauge("booking_watch_streams") != 0 && absl::Now() - frozen < absl::Seconds(20)) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  const absl::Duration released_after = absl::Now() - frozen;
  EXPECT_EQ(Gauge("booking_watch_streams"), 0);
  EXPECT_LT(released_after, absl::Seconds(6)) << "keepalive 1 s + timeout 1 s";
  std::printf("a silent gRPC watcher's slot came back %s after its network froze\n",
              absl::FormatDuration(released_after).c_str());
  ::kill(proxy.pid(), SIGCONT);
  context.TryCancel();
  reader->Finish();
}

// One client (a token) opening watch streams beyond its share is refused RESOURCE_EXHAUSTED,
// while another client still gets one.
TEST_F(VanishedClientsE2eTest, OneClientCannotTakeEveryWatchStream) {
  const std::string tokens = absl::StrCat(::testing::TempDir(), "/watch-tokens-", getpid());
  std::ofstream(tokens) << "office-a-7f3a write,read\noffice-b-21be write,read\n";
  StartServer({absl::StrCat("--auth_tokens_file=", tokens), "--max_watch_streams_per_client=3"});
  auto stub = tickets::v1::BookingService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", grpc_port_), grpc::InsecureChannelCredentials()));
  struct Watch {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<tickets::v1::TicketStep>> reader;
  };
  auto open = [&](const std::string& token) {
    auto watch = std::make_unique<Watch>();
    watch->context.AddMetadata("authorization", "Bearer " + token);
    tickets::v1::WatchTicketsRequest request;
    request.add_ticket_ids(kQuietTicket);
    watch->reader = stub->WatchTickets(&watch->context, request);
    watch->reader->WaitForInitialMetadata();  // open (or refused) on the server
    return watch;
  };
  std::vector<std::unique_ptr<Watch>> held;
  for (int i = 0; i < 3; ++i) held.push_back(open("office-a-7f3a"));
  ASSERT_EQ(Gauge("booking_watch_streams"), 3);

  std::unique_ptr<Watch> fourth = open("office-a-7f3a");
  tickets::v1::TicketStep step;
  EXPECT_FALSE(fourth->reader->Read(&step));
  const grpc::Status refused = fourth->reader->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), ::testing::HasSubstr("max_watch_streams_per_client"));
  EXPECT_THAT(refused.error_message(), ::testing::Not(::testing::HasSubstr("office-a")))
      << "the token is never echoed";

  std::unique_ptr<Watch> other = open("office-b-21be");
  EXPECT_EQ(Gauge("booking_watch_streams"), 4) << "another client still gets a stream";
  // One of the first client's streams closes: its place is free again.
  held.back()->context.TryCancel();
  held.back()->reader->Finish();
  held.pop_back();
  const absl::Time freed_by = absl::Now() + absl::Seconds(5);
  while (Gauge("booking_watch_streams") != 3 && absl::Now() < freed_by) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  std::unique_ptr<Watch> again = open("office-a-7f3a");
  EXPECT_EQ(Gauge("booking_watch_streams"), 4);
  for (Watch* watch : {other.get(), again.get()}) watch->context.TryCancel();
  for (auto& watch : held) watch->context.TryCancel();
  other->reader->Finish();
  again->reader->Finish();
  for (auto& watch : held) watch->reader->Finish();
}

long RssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// 2,000 calls that ask for STORED from an instance that runs no handler (--role=api), so none
// is ever stored: --max_waiting_calls of them wait (each until --max_wait), the rest are refused
// before anything is published, and the server's memory stays bounded meanwhile.
TEST_F(VanishedClientsE2eTest, CallsWaitingForTheHandlersAreBounded) {
  // Under AddressSanitizer freed memory waits in a quarantine (256 MiB by default) that would
  // count in the resident set; a small one keeps the figure about the server's own memory.
  const char* asan = std::getenv("ASAN_OPTIONS");
  setenv("ASAN_OPTIONS", absl::StrCat(asan != nullptr ? asan : "", ":quarantine_size_mb=8").c_str(),
         1);
  StartServer({"--role=api", "--max_waiting_calls=500", "--max_wait=20s"});
  const long rss_before = RssKib(server_->pid());
  constexpr int kCalls = 2000;
  // Four connections: one carries at most --grpc_max_concurrent_streams calls.
  std::vector<std::unique_ptr<tickets::v1::BookingService::Stub>> stubs;
  for (int i = 0; i < 4; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("booking.test.connection", i);
    stubs.push_back(tickets::v1::BookingService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", grpc_port_), grpc::InsecureChannelCredentials(), args)));
  }
  struct Call {
    grpc::ClientContext context;
    tickets::v1::UpdateTicketsStatusRequest request;
    tickets::v1::UpdateTicketsStatusResponse response;
  };
  std::vector<std::unique_ptr<Call>> calls;
  absl::Mutex mu;
  int answered = 0, refused = 0, waited = 0;
  std::string refusal;
  for (int i = 0; i < kCalls; ++i) {
    auto call = std::make_unique<Call>();
    call->request = testing::ValidRequest(1, "ab000000", i);
    call->request.set_idempotency_key(absl::StrCat("waiting-", i));
    call->request.set_consistency(tickets::v1::UpdateTicketsStatusRequest::STORED);
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    Call* raw = call.get();
    stubs[i % stubs.size()]->async()->UpdateTicketsStatus(
        &raw->context, &raw->request, &raw->response, [&, raw](grpc::Status status) {
          absl::MutexLock lock(&mu);
          ++answered;
          if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
            ++refused;
            refusal = status.error_message();
          } else if (status.ok() && !raw->response.consistency_reached()) {
            ++waited;
          }
        });
    calls.push_back(std::move(call));
  }
  // The refusals come at once; the others wait.
  const absl::Time refused_by = absl::Now() + absl::Seconds(15);
  while (absl::Now() < refused_by) {
    {
      absl::MutexLock lock(&mu);
      if (refused >= kCalls - 500) break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  const long rss_waiting = RssKib(server_->pid());
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(refused, kCalls - 500) << refusal;
    EXPECT_THAT(refusal, ::testing::HasSubstr("max_waiting_calls"));
    EXPECT_EQ(waited, 0) << "the others are still waiting";
  }
  std::printf("%d calls asking for STORED: %d refused, 500 waiting; server RSS %ld -> %ld KiB\n",
              kCalls, kCalls - 500, rss_before, rss_waiting);
  // 14 MiB in a plain build; AddressSanitizer's redzones and shadow make it about 4 times that.
  EXPECT_LT(rss_waiting - rss_before, 128 * 1024) << "500 waiting calls and 1,500 refused";
  // Refused calls published nothing: only the waiting calls' events are in the log.
  EXPECT_EQ(db_.Count("events"), 500);
  const absl::Time done_by = absl::Now() + absl::Seconds(45);
  while (absl::Now() < done_by) {
    {
      absl::MutexLock lock(&mu);
      if (answered == kCalls) break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  absl::MutexLock lock(&mu);
  EXPECT_EQ(answered, kCalls);
  EXPECT_EQ(waited, 500) << "answered at --max_wait, not stored (no handler runs)";
}

}  // namespace
}  // namespace booking::e2e
