// The console's files (GET /, /console.js, /console.css) against the real binary: served as
// built in, with a CSP that allows no inline code and nothing from other hosts; and what a page
// of another origin, or a rebinding host name, can do to the service from the operator's
// browser: nothing. What the console does is console_browser_e2etest's.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "console/assets.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/booking_server.h"
#include "tests/support/eventually.h"
#include "tests/support/http_call.h"
#include "tests/support/test_database.h"

namespace booking::e2e {
namespace {

using ::testing::HasSubstr;

constexpr char kChromium[] = "/usr/bin/chromium";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct ChildRun {
  std::string out;  // everything the child wrote to stdout
  int exit_code = -1;
  bool timed_out = false;
};

// Runs `argv` in a process group of its own with stdout captured and stderr appended to
// `err_path`. Past `timeout` the whole group (the browser and its helpers) gets SIGKILL.
ChildRun RunBounded(const std::vector<std::string>& argv, absl::Duration timeout,
                    const std::string& err_path) {
  ChildRun run;
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    run.out = absl::StrCat("pipe2: ", std::strerror(errno));
    return run;
  }
  const absl::Time deadline = absl::Now() + timeout;
  const pid_t pid = fork();
  if (pid == 0) {  // only async-signal-safe calls until exec
    setpgid(0, 0);
    const int null = open("/dev/null", O_RDONLY);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (null >= 0) dup2(null, STDIN_FILENO);
    if (err >= 0) dup2(err, STDERR_FILENO);
    dup2(out[1], STDOUT_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  if (pid < 0) {
    close(out[0]);
    run.out = absl::StrCat("fork: ", std::strerror(errno));
    return run;
  }
  setpgid(pid, pid);  // as the child does: whichever runs first
  char buffer[1 << 16];
  while (true) {  // until EOF (every process of the group closed stdout) or the deadline
    const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left_ms <= 0) break;
    pollfd readable{out[0], POLLIN, 0};
    const int ready = poll(&readable, 1, static_cast<int>(std::min<int64_t>(left_ms, 200)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = read(out[0], buffer, sizeof(buffer));
    if (n > 0) {
      run.out.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(out[0]);
  int status = 0;
  while (true) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (done < 0 || absl::Now() >= deadline) {
      run.timed_out = true;
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  kill(-pid, SIGKILL);  // helpers still in the group, if any (ESRCH when none)
  return run;
}

// Every src=, href=, url( and @import target of `html` that names a host: "//host/..." or an
// absolute http(s) URL.
std::vector<std::string> ExternalReferences(const std::string& html) {
  std::vector<std::string> found;
  const std::string lower = absl::AsciiStrToLower(html);
  for (const std::string marker : {"src=", "href=", "url(", "@import"}) {
    for (size_t at = lower.find(marker); at != std::string::npos; at = lower.find(marker, at + 1)) {
      size_t start = at + marker.size();
      while (start < lower.size() && (lower[start] == ' ' || lower[start] == '"' ||
                                      lower[start] == '\'' || lower[start] == '(')) {
        ++start;
      }
      const std::string target = lower.substr(start, 8);
      if (absl::StartsWith(target, "//") || absl::StartsWith(target, "http:") ||
          absl::StartsWith(target, "https:")) {
        found.emplace_back(html.substr(at, 100));
      }
    }
  }
  return found;
}

// A web site of another origin (another port of this host), as a hostile page would be: every
// request it gets is answered with `html`.
class OtherSite {
 public:
  explicit OtherSite(std::string html) : html_(std::move(html)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), size);
    ::listen(fd_, 16);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~OtherSite() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd ready{fd_, POLLIN, 0};
      if (poll(&ready, 1, 100) <= 0) continue;
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) continue;
      char request[8192];
      (void)::recv(client, request, sizeof request, 0);  // one request; its content is moot
      const std::string answer = absl::StrCat(
          "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ",
          html_.size(), "\r\nConnection: close\r\n\r\n", html_);
      (void)::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  const std::string html_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class ConsolePageE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = testing::BookingServer::Start(db_.url());
    ASSERT_TRUE(server_->ready());
    char temp[] = "/tmp/console-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(temp), nullptr);
    temp_dir_ = temp;
  }
  void TearDown() override {
    if (!temp_dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(temp_dir_, ignored);
    }
  }

  std::string Url(absl::string_view path) const { return server_->url(path); }

  // Headless Chromium on `url` with a fresh profile; `mode` is --dump-dom or --screenshot=...
  // `--timeout` makes it give up waiting for the page's load event (and capture it as it is)
  // before `bound`; past `bound` it is killed.
  ChildRun RunChromium(const std::string& mode, const std::string& url, absl::Duration bound,
                       const std::vector<std::string>& extra = {}) {
    const std::string profile = (temp_dir_ / absl::StrCat("profile-", ++chromium_runs_)).string();
    const int64_t load_ms = std::max<int64_t>(absl::ToInt64Milliseconds(bound) - 5000, 1000);
    std::vector<std::string> argv = {kChromium, "--headless",
                                     // The sandbox needs user namespaces, which containers (and
                                     // root) lack; the browser only opens this test's own pages.
                                     "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                     "--no-first-run", "--no-default-browser-check",
                                     "--hide-scrollbars", "--window-size=1280,800",
                                     "--user-data-dir=" + profile,
                                     absl::StrCat("--timeout=", std::min<int64_t>(load_ms, 20000))};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(mode);
    argv.push_back(url);
    return RunBounded(argv, bound, ChromiumLog());
  }
  std::string ChromiumLog() const { return (temp_dir_ / "chromium.log").string(); }
  std::string ChromiumLogTail() const {
    const std::string log = ReadFile(ChromiumLog());
    return log.size() > 4000 ? log.substr(log.size() - 4000) : log;
  }

  testing::TestDatabase db_;
  std::unique_ptr<testing::BookingServer> server_;
  std::filesystem::path temp_dir_;
  int chromium_runs_ = 0;
};

TEST_F(ConsolePageE2eTest, TheFilesAreServedWithAStrictPolicyAndNothingFromElsewhere) {
  testing::HttpCaller http;
  for (const auto& [path, type] : std::vector<std::pair<std::string, std::string>>{
           {"/", "text/html; charset=utf-8"},
           {"/index.html", "text/html; charset=utf-8"},
           {"/console.js", "text/javascript; charset=utf-8"},
           {"/console.css", "text/css; charset=utf-8"}}) {
    testing::HttpResult file = http.Call("GET", Url(path));
    ASSERT_EQ(file.status, 200) << path << ": " << file.error << file.body;
    EXPECT_EQ(file.headers["content-type"], type) << path;
    EXPECT_EQ(file.body, console::FindAsset(path)->body) << path;
    const std::string csp = file.headers["content-security-policy"];
    EXPECT_THAT(csp, HasSubstr("script-src 'self';")) << path;
    EXPECT_THAT(csp, HasSubstr("style-src 'self';")) << path;
    EXPECT_THAT(csp, ::testing::Not(HasSubstr("unsafe-inline"))) << path;
    EXPECT_THAT(csp, HasSubstr("frame-ancestors 'none'")) << path;
    EXPECT_EQ(file.headers["x-content-type-options"], "nosniff") << path;
    EXPECT_THAT(ExternalReferences(file.body), ::testing::IsEmpty())
        << path << ": the console loads nothing from other hosts";
  }
  const std::string page = http.Call("GET", Url("/")).body;
  EXPECT_THAT(page, HasSubstr(R"(<script type="module" src="console.js"></script>)"));
  EXPECT_THAT(page, ::testing::Not(HasSubstr("<script>"))) << "no inline script";
  EXPECT_THAT(page, ::testing::Not(HasSubstr("<style"))) << "no inline style";
  EXPECT_THAT(page, ::testing::Not(HasSubstr("style=")));
  EXPECT_THAT(std::string(console::FindAsset("/console.js")->body),
              ::testing::Not(HasSubstr("send=")))
      << "no test hook in the shipped script";
  EXPECT_EQ(http.Call("GET", Url("/console.map")).status, 404);
  EXPECT_EQ(http.Call("POST", Url("/console.js"), "x", {"Content-Type: text/plain"}).status / 100,
            4);
}

// A page of another site, open in the operator's browser while tokens are off (the default),
// tries what needs no CORS preflight: text/plain POSTs that write a ticket (the key in the
// body), replay a handler and retry every dead letter. Each is refused with 403 and nothing
// changes.
TEST_F(ConsolePageE2eTest, PageOfAnotherOriginCannotWriteReplayOrRetry) {
  ASSERT_EQ(access(kChromium, X_OK), 0) << kChromium << " is missing: run tools/bootstrap.sh";
  const std::string target = server_->url();
  const std::string write =
      R"({"idempotency_key":"evil-1","tickets":[{"ticket_id":"e0000000-0000-4000-8000-)"
      R"(000000000001","status":"confirmed","customer_email":"x@evil.example",)"
      R"("price":{"amount":"1","currency":"EUR"}}]})";
  OtherSite site(absl::StrCat(R"(<!doctype html><title>elsewhere</title><pre id="out">sending</pre>
<script>
const target = ')",
                              target, R"(';
const posts = [['/v1/tickets-status', ')",
                              write, R"('],
               ['/tickets-status', ')",
                              write, R"('],
               ['/v1/admin/handlers/AppendToTracker:replay', '{"from_sequence":"1"}'],
               ['/v1/admin/dead-letters:retry', '{"all":true}']];
Promise.all(posts.map(([path, body]) =>
    fetch(target + path, {method: 'POST', mode: 'no-cors',
                          headers: {'Content-Type': 'text/plain'}, body})
        .then(r => path + ' sent', e => path + ' ' + e)))
  .then(lines => { document.getElementById('out').textContent = 'done ' + lines.join('; '); });
</script>)"));
  const std::string page = absl::StrCat("http://127.0.0.1:", site.port(), "/");
  ChildRun run;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  do {
    run = RunChromium("--dump-dom", page, absl::Seconds(20), {"--virtual-time-budget=5000"});
  } while (!absl::StrContains(run.out, "done ") && absl::Now() < deadline);
  ASSERT_THAT(run.out, HasSubstr("done ")) << run.out << "\n" << ChromiumLogTail();
  EXPECT_THAT(run.out, HasSubstr("/v1/tickets-status sent")) << "the browser did send it";

  const std::string log = server_->log();
  for (const char* path :
       {"/v1/tickets-status", "/tickets-status", "/v1/admin/handlers/AppendToTracker:replay",
        "/v1/admin/dead-letters:retry"}) {
    EXPECT_THAT(log, HasSubstr(absl::StrCat("method=POST path=", path, " status=403"))) << log;
  }
  EXPECT_EQ(testing::CountRows(db_.url(), "events"), 0) << "nothing was written";
  EXPECT_EQ(testing::CountRows(db_.url(), "deliveries"), 0) << "nothing was replayed";
}

// DNS rebinding: a page served under the attacker's name, which then resolves to this host,
// reads the service as its own origin. Chromium told that the name is 127.0.0.1 opens
// /tickets under it: refused, and no customer's e-mail address is shown. Under this host's own
// address the same list is there.
TEST_F(ConsolePageE2eTest, RebindingHostCannotReadTickets) {
  ASSERT_EQ(access(kChromium, X_OK), 0) << kChromium << " is missing: run tools/bootstrap.sh";
  testing::HttpCaller http;
  const std::string body =
      R"({"tickets":[{"ticket_id":"e1000000-0000-4000-8000-000000000001","status":"confirmed",)"
      R"("customer_email":"ann@example.com","price":{"amount":"5","currency":"EUR"}}]})";
  ASSERT_EQ(http.Call("POST", Url("/tickets-status"), body,
                      {"Content-Type: application/json", "Idempotency-Key: rebind-1"})
                .status,
            200);
  const absl::Time stored_by = absl::Now() + absl::Seconds(20);
  while (!absl::StrContains(http.Call("GET", Url("/tickets")).body, "ann@example.com") &&
         absl::Now() < stored_by) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_THAT(http.Call("GET", Url("/tickets")).body, HasSubstr("ann@example.com"));

  const ChildRun rebound = RunChromium(
      "--dump-dom", absl::StrCat("http://rebind.example:", server_->http_port(), "/tickets"),
      absl::Seconds(20), {"--host-resolver-rules=MAP rebind.example 127.0.0.1"});
  EXPECT_THAT(rebound.out, ::testing::Not(HasSubstr("ann@example.com"))) << rebound.out;
  EXPECT_THAT(rebound.out, HasSubstr("--http_allowed_hosts")) << rebound.out << ChromiumLogTail();
  const ChildRun own = RunChromium("--dump-dom", Url("/tickets"), absl::Seconds(20));
  EXPECT_THAT(own.out, HasSubstr("ann@example.com")) << own.out << ChromiumLogTail();
}

}  // namespace
}  // namespace booking::e2e
