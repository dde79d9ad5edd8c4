// Hostile clients on the HTTP port, against the real binary: more connections than allowed,
// connections that never send a request, and thousands of slow 1 MiB uploads.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/booking_server.h"
#include "tests/support/http_call.h"
#include "tests/support/test_database.h"

namespace booking::e2e {
namespace {

using ::testing::HasSubstr;

// A raw TCP connection to 127.0.0.1:port (-1 when refused).
int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    ::close(fd);
    errno = error;  // for the caller's message
    return -1;
  }
  return fd;
}

// Everything the peer sends until it closes or `timeout` passes; `closed` says which.
std::string ReadUntilClosed(int fd, absl::Duration timeout, bool* closed) {
  timeval tv{};
  tv.tv_sec = 0;
  tv.tv_usec = 100 * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  const absl::Time deadline = absl::Now() + timeout;
  *closed = false;
  char buffer[4096];
  while (absl::Now() < deadline) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      out.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      *closed = true;  // orderly close, or reset
      break;
    }
  }
  return out;
}

long RssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

class HttpLimitsE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Thousands of client sockets: the soft limit may be 1024 on a fresh machine.
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }

  void StartServer(testing::ServerFlags flags) {
    server_ = testing::BookingServer::Start(db_.url(), std::move(flags));
    ASSERT_TRUE(server_->ready());
    http_port_ = server_->http_port();
  }

  void TearDown() override {
    for (int fd : open_) ::close(fd);
  }

  std::string Url(const std::string& path) const { return server_->url(path); }

  testing::TestDatabase db_;
  std::unique_ptr<testing::BookingServer> server_;
  int http_port_ = 0;
  std::vector<int> open_;  // closed at the end
};

TEST_F(HttpLimitsE2eTest, ConnectionsBeyondTheCapGet503AndTheCapFreesAsTheyClose) {
  StartServer({"--max_http_connections=50"});
  for (int i = 0; i < 50; ++i) {
    const int fd = Connect(http_port_);
    ASSERT_GE(fd, 0) << "connection " << i << ": " << std::strerror(errno) << "\n"
                     << server_->log();
    open_.push_back(fd);
  }
  absl::SleepFor(absl::Milliseconds(300));  // all 50 accepted

  const int extra = Connect(http_port_);
  ASSERT_GE(extra, 0);
  bool closed = false;
  const std::string answer = ReadUntilClosed(extra, absl::Seconds(5), &closed);
  ::close(extra);
  EXPECT_TRUE(closed) << "the 51st connection is closed at once";
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 503"));
  EXPECT_THAT(answer, HasSubstr("Retry-After: 1"));
  EXPECT_THAT(answer, HasSubstr("\"code\":14"));

  // Ten close: ten new connections fit again, and a real request is served.
  for (int i = 0; i < 10; ++i) {
    ::close(open_.back());
    open_.pop_back();
  }
  absl::SleepFor(absl::Milliseconds(300));
  testing::HttpCaller http;
  testing::HttpResult health = http.Call("GET", Url("/healthz"));
  EXPECT_EQ(health.status, 200) << health.error << health.body;
  testing::HttpResult metrics = http.Call("GET", Url("/metrics"));
  EXPECT_THAT(metrics.body, HasSubstr("booking_http_refused 1"));
  EXPECT_THAT(server_->log(), HasSubstr("max_http_connections=50: refusing"));
}

// A new connection that sends nothing is closed after the read timeout, not the (longer) idle
// timeout meant for keep-alive connections between requests.
TEST_F(HttpLimitsE2eTest, SilentNewConnectionIsClosedAfterTheReadTimeout) {
  StartServer({"--http_read_timeout=1s", "--http_idle_timeout=60s"});
  const int fd = Connect(http_port_);
  ASSERT_GE(fd, 0);
  const absl::Time start = absl::Now();
  bool closed = false;
  ReadUntilClosed(fd, absl::Seconds(10), &closed);
  ::close(fd);
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(closed);
  EXPECT_LT(took, absl::Seconds(4)) << took;

  // A keep-alive connection between requests still gets the idle timeout.
  testing::HttpCaller http;
  EXPECT_EQ(http.Call("GET", Url("/healthz")).status, 200);
  absl::SleepFor(absl::Seconds(2));
  testing::HttpResult again = http.Call("GET", Url("/healthz"));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.new_connections, 0) << "reused after 2 s idle (read timeout 1 s)";
}

// 2,000 uploads that each announce 1 MiB and send all of it but the last byte, then stall. The
// bodies being received are bounded by --max_http_body_memory (64 MiB): the rest get 503 before
// their body is read, and the server's memory stays far below the 2 GiB the uploads announce.
TEST_F(HttpLimitsE2eTest, SlowUploadsTakeBoundedMemory) {
  // Under AddressSanitizer freed memory waits in a quarantine (256 MiB by default) that would
  // count in the resident set; a small one keeps the figure about the server's own memory.
  const char* asan = std::getenv("ASAN_OPTIONS");
  setenv("ASAN_OPTIONS", absl::StrCat(asan != nullptr ? asan : "", ":quarantine_size_mb=8").c_str(),
         1);
  StartServer({"--max_http_connections=3000", "--http_read_timeout=60s"});
  const long rss_before = RssKib(server_->process().pid());
  constexpr size_t kBody = 1 << 20;
  const std::string header = absl::StrCat(
      "POST /v1/tickets:updateStatus HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
      "application/json\r\n"
      "Content-Length: ",
      kBody, "\r\n\r\n");
  const std::string body(kBody - 1, ' ');
  std::vector<size_t> sent;
  for (int i = 0; i < 2000; ++i) {
    const int fd = Connect(http_port_);
    ASSERT_GE(fd, 0) << "connection " << i;
    open_.push_back(fd);
    ASSERT_EQ(::send(fd, header.data(), header.size(), MSG_NOSIGNAL), ssize_t(header.size()));
    sent.push_back(0);
  }
  // Push the bodies without blocking, round after round, until nothing more goes through.
  long long delivered = 0, refused = 0;
  for (int round = 0; round < 200; ++round) {
    bool progress = false;
    for (size_t i = 0; i < open_.size(); ++i) {
      if (sent[i] >= body.size()) continue;
      const ssize_t n = ::send(open_[i], body.data() + sent[i], body.size() - sent[i],
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent[i] += static_cast<size_t>(n);
        delivered += n;
        progress = true;
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        sent[i] = body.size();  // refused and closed by the server
        ++refused;
      }
    }
    if (!progress) absl::SleepFor(absl::Milliseconds(20));
    if (!progress && round > 20) break;
  }
  absl::SleepFor(absl::Seconds(1));  // let the server read what is in flight
  const long rss_during = RssKib(server_->process().pid());
  std::printf("2000 slow 1 MiB uploads: %lld MiB sent, %lld refused, server RSS %ld -> %ld MiB\n",
              delivered >> 20, refused, rss_before / 1024, rss_during / 1024);
  EXPECT_LT(rss_during - rss_before, 256 * 1024) << "KiB";
  EXPECT_GT(refused, 0);
  // The server's own account: the bodies it holds stay within --max_http_body_memory.
  testing::HttpCaller scrape;
  const std::string metrics = scrape.Call("GET", Url("/metrics")).body;
  const size_t at = metrics.find("\nbooking_http_body_memory_bytes ");
  ASSERT_NE(at, std::string::npos) << metrics.substr(0, 2000);
  const double held = std::stod(metrics.substr(at + strlen("\nbooking_http_body_memory_bytes ")));
  std::printf("request bodies held: %.0f MiB\n", held / (1 << 20));
  EXPECT_GT(held, 0);
  EXPECT_LE(held, 64.0 * (1 << 20) * 1.0001);  // the page prints 6 digits

  // When the uploads go away, the server serves again.
  for (int fd : open_) ::close(fd);
  open_.clear();
  testing::HttpCaller http;
  bool served = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!served && absl::Now() < deadline) {
    served = http.Call("GET", Url("/healthz")).status == 200;
    if (!served) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(served);
}

}  // namespace
}  // namespace booking::e2e
