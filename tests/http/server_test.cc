// The HTTP server on a real socket, seen by a raw TCP client: what goes over the wire (order,
// framing, refusals, closes) is what these tests check, byte for byte where it matters.
#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/eventually.h"

namespace booking::http {
namespace {

using ::testing::ElementsAre;
using testing::Eventually;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kBound = absl::Seconds(10);  // for anything that should happen at once

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;                            // decoded
  std::vector<std::string> chunks;             // a chunked body, chunk by chunk
};

// A blocking TCP client whose every read is bounded by a deadline.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Sends are small, but a server that stopped reading must not hang the test.
    timeval send_timeout{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) Close();
  }
  ~RawClient() { Close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  const std::string& buffered() const { return buffer_; }

  bool Send(std::string_view bytes) {
    while (!bytes.empty() && fd_ >= 0) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return bytes.empty();
  }

  // The next whole response; nullopt when the connection ends or `timeout` passes first.
  std::optional<Reply> ReadReply(absl::Duration timeout = kBound) {
    const absl::Time deadline = absl::Now() + timeout;
    size_t head_end = 0;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    Reply reply;
    const std::string head = buffer_.substr(0, head_end);
    buffer_.erase(0, head_end + 4);
    size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || !absl::SimpleAtoi(status_line.substr(9, 3), &reply.status)) {
      return std::nullopt;
    }
    while (line_end != std::string::npos) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      reply.headers[absl::AsciiStrToLower(line.substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
    if (reply.headers["transfer-encoding"] == "chunked") {
      for (;;) {
        size_t size_end = 0;
        while ((size_end = buffer_.find("\r\n")) == std::string::npos) {
          if (!Fill(deadline)) return std::nullopt;
        }
        size_t size = 0;
        if (!absl::SimpleHexAtoi(buffer_.substr(0, size_end), &size)) return std::nullopt;
        buffer_.erase(0, size_end + 2);
        while (buffer_.size() < size + 2) {
          if (!Fill(deadline)) return std::nullopt;
        }
        if (size == 0) {  // the last chunk, no trailers
          buffer_.erase(0, 2);
          return reply;
        }
        reply.chunks.push_back(buffer_.substr(0, size));
        reply.body += reply.chunks.back();
        buffer_.erase(0, size + 2);
      }
    }
    size_t length = 0;
    if (!absl::SimpleAtoi(reply.headers["content-length"], &length)) return std::nullopt;
    while (buffer_.size() < length) {
      if (!Fill(deadline)) return std::nullopt;
    }
    reply.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return reply;
  }

  // True once what was received contains `marker`, within `timeout`.
  bool ReadUntil(std::string_view marker, absl::Duration timeout = kBound) {
    const absl::Time deadline = absl::Now() + timeout;
    while (buffer_.find(marker) == std::string::npos) {
      if (!Fill(deadline)) return false;
    }
    return true;
  }

  // True when the server ends the connection (FIN or reset) within `timeout`; what it sends
  // before is kept in buffered().
  bool ClosedWithin(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (Fill(deadline)) {
    }
    return peer_closed_;
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  // Appends what arrives before `deadline`; false when nothing did (closed, or timed out).
  bool Fill(absl::Time deadline) {
    if (fd_ < 0 || peer_closed_) return false;
    pollfd poll_fd{.fd = fd_, .events = POLLIN, .revents = 0};
    for (;;) {
      const int wait_ms =
          static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
      const int ready = ::poll(&poll_fd, 1, wait_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
      break;
    }
    char bytes[16 << 10];
    const ssize_t n = ::recv(fd_, bytes, sizeof bytes, 0);
    if (n <= 0) {
      peer_closed_ = true;
      return false;
    }
    buffer_.append(bytes, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool peer_closed_ = false;
  std::string buffer_;
};

std::string Get(const std::string& target) {
  return absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: test\r\n\r\n");
}

std::string Post(const std::string& target, const std::string& body) {
  return absl::StrCat("POST ", target, " HTTP/1.1\r\nHost: test\r\nContent-Length: ", body.size(),
                      "\r\n\r\n", body);
}

// Requests the handler keeps unanswered until the test answers them.
class Pending {
 public:
  void Add(Request request, absl::AnyInvocable<void(Response)> done) {
    common::MutexLock lock(mu_);
    ++seen_;
    items_.emplace_back(std::move(request), std::move(done));
    changed_.NotifyAll();
  }

  bool AwaitCount(size_t n, absl::Duration timeout = kBound) {
    common::MutexLock lock(mu_);
    return changed_.AwaitFor(
        mu_, timeout, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return items_.size() >= n; });
  }

  // Answers the oldest pending request, outside the lock (the server may call back at once).
  void AnswerOldest(Response response) {
    absl::AnyInvocable<void(Response)> done;
    {
      common::MutexLock lock(mu_);
      if (items_.empty()) return;
      done = std::move(items_.front().second);
      items_.pop_front();
    }
    done(std::move(response));
  }

  // Drops every callback, and with them the connections they keep.
  void Clear() {
    std::deque<std::pair<Request, absl::AnyInvocable<void(Response)>>> items;
    {
      common::MutexLock lock(mu_);
      items.swap(items_);
    }
  }

  size_t seen() {
    common::MutexLock lock(mu_);
    return seen_;
  }

 private:
  common::Mutex mu_;
  common::CondVar changed_;
  std::deque<std::pair<Request, absl::AnyInvocable<void(Response)>>> items_ ABSL_GUARDED_BY(mu_);
  size_t seen_ ABSL_GUARDED_BY(mu_) = 0;
};

// A streamed body whose pieces the test hands over: a Next waits for the next one pushed.
class ScriptedBody final : public BodyStream {
 public:
  void Push(absl::StatusOr<std::string> piece) {
    Deliver deliver;
    {
      common::MutexLock lock(mu_);
      if (!waiting_) {
        pieces_.push_back(std::move(piece));
        return;
      }
      deliver = std::move(waiting_);
      waiting_ = nullptr;
    }
    std::move(deliver)(std::move(piece));
  }

  void Next(Deliver deliver) override {
    absl::StatusOr<std::string> piece;
    {
      common::MutexLock lock(mu_);
      ++nexts_;
      changed_.NotifyAll();
      if (pieces_.empty()) {
        waiting_ = std::move(deliver);
        return;
      }
      piece = std::move(pieces_.front());
      pieces_.pop_front();
    }
    std::move(deliver)(std::move(piece));
  }

  // As a real stream must: a waiting Next ends (here with an error).
  void Abandon() override {
    Deliver deliver;
    {
      common::MutexLock lock(mu_);
      abandoned_ = true;
      changed_.NotifyAll();
      deliver = std::move(waiting_);
      waiting_ = nullptr;
    }
    if (deliver) std::move(deliver)(absl::CancelledError("abandoned"));
  }

  bool AwaitNexts(int n) {
    common::MutexLock lock(mu_);
    return changed_.AwaitFor(mu_, kBound,
                             [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return nexts_ >= n; });
  }

  bool AwaitAbandoned() {
    common::MutexLock lock(mu_);
    return changed_.AwaitFor(mu_, kBound,
                             [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return abandoned_; });
  }

 private:
  common::Mutex mu_;
  common::CondVar changed_;
  std::deque<absl::StatusOr<std::string>> pieces_ ABSL_GUARDED_BY(mu_);
  Deliver waiting_ ABSL_GUARDED_BY(mu_);
  int nexts_ ABSL_GUARDED_BY(mu_) = 0;
  bool abandoned_ ABSL_GUARDED_BY(mu_) = false;
};

// Answers at once: the target, a space and the body.
void Echo(Request request, absl::AnyInvocable<void(Response)> done) {
  Response response;
  response.body = absl::StrCat(request.target, " ", request.body);
  done(std::move(response));
}

class ServerTest : public ::testing::Test {
 protected:
  ~ServerTest() override {
    // The callbacks hold connections, which hold the server's state: let go of them first.
    pending_.Clear();
    server_.reset();
  }

  void StartServer(ServerOptions options, Server::Handler handler) {
    options.address = "127.0.0.1:0";
    server_ = std::make_unique<Server>(std::move(options), std::move(handler));
    absl::StatusOr<int> port = server_->Start();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
  }

  Server::Handler Hold() {
    return [this](Request request, absl::AnyInvocable<void(Response)> done) {
      pending_.Add(std::move(request), std::move(done));
    };
  }

  Pending pending_;
  std::unique_ptr<Server> server_;
  int port_ = 0;
};

// Three requests in one write. The first is answered last, from a thread of the test, and the
// other two from threads of their own: the answers still come in request order, because a
// pipelined request waits in the buffer until the one before it is answered.
TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  common::Mutex mu;
  std::vector<std::thread> answerers;
  std::vector<std::string> handled;
  StartServer({}, [&](Request request, absl::AnyInvocable<void(Response)> done) {
    common::MutexLock lock(mu);
    handled.push_back(request.target);
    if (request.target == "/first") {
      pending_.Add(std::move(request), std::move(done));
      return;
    }
    answerers.emplace_back([request = std::move(request), done = std::move(done)]() mutable {
      Echo(std::move(request), std::move(done));
    });
  });
  RawClient client(port_);
  ASSERT_TRUE(client.Send(Get("/first") + Post("/second", "hello") + Get("/third")));
  ASSERT_TRUE(pending_.AwaitCount(1));
  EXPECT_EQ(pending_.seen(), 1u) << "the later requests wait until the first is answered";
  std::thread([this] {
    Response response;
    response.body = "first answer";
    pending_.AnswerOldest(std::move(response));
  }).join();

  std::vector<std::string> bodies;
  for (int i = 0; i < 3; ++i) {
    std::optional<Reply> reply = client.ReadReply();
    ASSERT_TRUE(reply.has_value()) << "answer " << i << "; received: " << client.buffered();
    EXPECT_EQ(reply->status, 200);
    bodies.push_back(reply->body);
  }
  EXPECT_THAT(bodies, ElementsAre("first answer", "/second hello", "/third "));
  std::vector<std::thread> threads;
  {
    common::MutexLock lock(mu);
    EXPECT_THAT(handled, ElementsAre("/first", "/second", "/third"));
    threads.swap(answerers);
  }
  for (std::thread& thread : threads) thread.join();
}

TEST_F(ServerTest, BodyOverMaxBodyBytesGets413) {
  std::atomic<int> handled{0};
  ServerOptions options;
  options.max_body_bytes = 1000;
  StartServer(options, [&](Request request, auto done) {
    ++handled;
    Echo(std::move(request), std::move(done));
  });
  RawClient at_limit(port_);
  ASSERT_TRUE(at_limit.Send(Post("/up", std::string(1000, 'a'))));
  std::optional<Reply> accepted = at_limit.ReadReply();
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(accepted->status, 200);
  EXPECT_EQ(accepted->body.size(), std::string("/up ").size() + 1000);

  // Refused from its Content-Length, before any of the body is read.
  RawClient declared(port_);
  ASSERT_TRUE(declared.Send("POST /up HTTP/1.1\r\nHost: test\r\nContent-Length: 1001\r\n\r\n"));
  std::optional<Reply> refused = declared.ReadReply();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 413);
  EXPECT_EQ(refused->headers["connection"], "close");
  EXPECT_EQ(refused->body, R"({"status":413,"message":"request body too large"})");
  EXPECT_TRUE(declared.ClosedWithin(kBound));

  // A chunked body has no length to refuse early: it is cut off once it passes the limit.
  RawClient chunked(port_);
  ASSERT_TRUE(chunked.Send(
      absl::StrCat("POST /up HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n",
                   "5dc\r\n", std::string(1500, 'b'), "\r\n0\r\n\r\n")));
  std::optional<Reply> cut = chunked.ReadReply();
  ASSERT_TRUE(cut.has_value());
  EXPECT_EQ(cut->status, 413);
  EXPECT_TRUE(chunked.ClosedWithin(kBound));
  EXPECT_EQ(handled.load(), 1) << "only the body at the limit reached the handler";
}

TEST_F(ServerTest, HeadersOverMaxHeaderBytesGet431) {
  std::atomic<int> handled{0};
  ServerOptions options;
  options.max_header_bytes = 1024;
  StartServer(options, [&](Request request, auto done) {
    ++handled;
    Echo(std::move(request), std::move(done));
  });
  RawClient small(port_);
  ASSERT_TRUE(small.Send(absl::StrCat(
      "GET /small HTTP/1.1\r\nHost: test\r\nX-Big: ", std::string(900, 'a'), "\r\n\r\n")));
  std::optional<Reply> accepted = small.ReadReply();
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(accepted->status, 200);

  RawClient big(port_);
  ASSERT_TRUE(big.Send(absl::StrCat(
      "GET /big HTTP/1.1\r\nHost: test\r\nX-Big: ", std::string(2000, 'a'), "\r\n\r\n")));
  std::optional<Reply> refused = big.ReadReply();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 431);
  EXPECT_EQ(refused->body, R"({"status":431,"message":"request headers too large"})");
  EXPECT_TRUE(big.ClosedWithin(kBound));
  EXPECT_EQ(handled.load(), 1);
}

TEST_F(ServerTest, ConnectionsBeyondMaxConnectionsGet503AndTheCapFreesAsTheyClose) {
  ServerOptions options;
  options.max_connections = 2;
  StartServer(options, Echo);
  RawClient first(port_);
  RawClient second(port_);
  ASSERT_TRUE(first.connected() && second.connected());
  // The kernel accepts before the server does: wait until both hold a slot.
  ASSERT_TRUE(Eventually([&] { return server_->stats().open_connections == 2; }, kBound));

  RawClient third(port_);
  std::optional<Reply> busy = third.ReadReply();
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(busy->status, 503);
  EXPECT_EQ(busy->headers["retry-after"], "1");
  EXPECT_EQ(busy->headers["connection"], "close");
  EXPECT_THAT(busy->body, HasSubstr(R"("status":503)"));
  EXPECT_TRUE(third.ClosedWithin(kBound));
  EXPECT_EQ(server_->stats().refused_connections, 1);
  EXPECT_EQ(server_->stats().open_connections, 2);

  first.Close();
  ASSERT_TRUE(Eventually([&] { return server_->stats().open_connections == 1; }, kBound));
  RawClient fourth(port_);
  ASSERT_TRUE(fourth.Send(Get("/again")));
  std::optional<Reply> served = fourth.ReadReply();
  ASSERT_TRUE(served.has_value());
  EXPECT_EQ(served->status, 200);
}

// Uploads in progress share max_body_memory_bytes: one that would pass it is refused from its
// header, and the memory comes back once the request holding it is answered.
TEST_F(ServerTest, BodyMemoryExhaustedGets503BeforeTheBodyIsRead) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  options.max_body_memory_bytes = 1000;
  StartServer(options, Echo);
  RawClient slow(port_);
  ASSERT_TRUE(slow.Send(absl::StrCat(
      "POST /slow HTTP/1.1\r\nHost: test\r\nContent-Length: 800\r\n\r\n", std::string(400, 'a'))));
  ASSERT_TRUE(Eventually([&] { return server_->stats().body_memory_bytes == 800; }, kBound));

  RawClient refused(port_);
  ASSERT_TRUE(refused.Send("POST /other HTTP/1.1\r\nHost: test\r\nContent-Length: 300\r\n\r\n"));
  std::optional<Reply> busy = refused.ReadReply();
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(busy->status, 503);
  EXPECT_EQ(busy->headers["retry-after"], "1");
  EXPECT_TRUE(refused.ClosedWithin(kBound));
  EXPECT_EQ(server_->stats().refused_connections, 1);

  ASSERT_TRUE(slow.Send(std::string(400, 'a')));
  std::optional<Reply> done = slow.ReadReply();
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, 200);
  EXPECT_EQ(done->body, absl::StrCat("/slow ", std::string(800, 'a')));
  EXPECT_EQ(server_->stats().body_memory_bytes, 0u) << "given back before the answer is written";

  RawClient later(port_);
  ASSERT_TRUE(later.Send(Post("/other", std::string(300, 'c'))));
  std::optional<Reply> served = later.ReadReply();
  ASSERT_TRUE(served.has_value());
  EXPECT_EQ(served->status, 200);
}

TEST_F(ServerTest, IdleTimeoutClosesAQuietKeepAliveConnection) {
  // read_timeout is far beyond the wait below: only idle_timeout can close the connection.
  ServerOptions options;
  options.read_timeout = absl::Seconds(60);
  options.idle_timeout = absl::Milliseconds(200);
  StartServer(options, Echo);
  RawClient client(port_);
  ASSERT_TRUE(client.Send(Get("/once")));
  std::optional<Reply> reply = client.ReadReply();
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->headers["connection"], "close") << "kept alive";
  EXPECT_TRUE(client.ClosedWithin(kBound));
  EXPECT_TRUE(Eventually([&] { return server_->stats().open_connections == 0; }, kBound));
}

// The pieces are handed over from the test's thread, as a gRPC thread would; a request
// pipelined behind the stream is answered after it, on the same connection.
TEST_F(ServerTest, StreamedBodyArrivesChunked) {
  auto body = std::make_shared<ScriptedBody>();
  StartServer({}, [&](Request request, absl::AnyInvocable<void(Response)> done) {
    if (request.target != "/stream") return Echo(std::move(request), std::move(done));
    Response response;
    response.headers = {{"Content-Type", "application/x-ndjson"}};
    response.stream = body;
    done(std::move(response));
  });
  RawClient client(port_);
  ASSERT_TRUE(client.Send(Get("/stream") + Get("/after")));
  ASSERT_TRUE(body->AwaitNexts(1));
  for (const char* piece : {"one\n", "two\n", "three\n", ""}) body->Push(std::string(piece));

  std::optional<Reply> streamed = client.ReadReply();
  ASSERT_TRUE(streamed.has_value()) << client.buffered();
  EXPECT_EQ(streamed->status, 200);
  EXPECT_EQ(streamed->headers["transfer-encoding"], "chunked");
  EXPECT_EQ(streamed->headers["content-type"], "application/x-ndjson");
  EXPECT_EQ(streamed->headers.count("content-length"), 0u);
  EXPECT_THAT(streamed->chunks, ElementsAre("one\n", "two\n", "three\n"));
  std::optional<Reply> after = client.ReadReply();
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->body, "/after ");
}

TEST_F(ServerTest, StreamErrorCutsTheBody) {
  auto body = std::make_shared<ScriptedBody>();
  body->Push(std::string("partial"));
  body->Push(absl::UnavailableError("the source went away"));
  StartServer({}, [&](Request, absl::AnyInvocable<void(Response)> done) {
    Response response;
    response.stream = body;
    done(std::move(response));
  });
  RawClient client(port_);
  ASSERT_TRUE(client.Send(Get("/stream")));
  ASSERT_TRUE(client.ReadUntil("partial"));
  EXPECT_TRUE(client.ClosedWithin(kBound));
  EXPECT_THAT(client.buffered(), Not(HasSubstr("\r\n0\r\n\r\n")))
      << "no last chunk: the client can tell the body is incomplete";
}

// The server reads nothing while a body streams, yet must notice the client leaving: the
// stream is abandoned (its waiting Next then ends) and the connection let go.
TEST_F(ServerTest, ClientGoneMidStreamAbandonsTheStream) {
  auto body = std::make_shared<ScriptedBody>();
  body->Push(std::string("first"));
  StartServer({}, [&](Request, absl::AnyInvocable<void(Response)> done) {
    Response response;
    response.stream = body;
    done(std::move(response));
  });
  RawClient client(port_);
  ASSERT_TRUE(client.Send(Get("/stream")));
  ASSERT_TRUE(client.ReadUntil("first"));
  ASSERT_TRUE(body->AwaitNexts(2)) << "the server waits for the second piece";
  client.Close();
  EXPECT_TRUE(body->AwaitAbandoned());
  EXPECT_TRUE(Eventually([&] { return server_->stats().open_connections == 0; }, kBound));
}

TEST_F(ServerTest, ErrorBodyRendersTheServersRefusals) {
  ServerOptions options;
  options.max_body_bytes = 10;
  options.max_header_bytes = 512;
  options.max_connections = 1;
  options.error_body = [](int status, std::string_view message) {
    return absl::StrCat(R"({"refused":)", status, R"(,"why":")", std::string(message), R"("})");
  };
  StartServer(std::move(options), Echo);
  auto refusal = [&](const std::string& request) -> std::string {
    // One connection at a time: wait for the previous one's slot to come back.
    EXPECT_TRUE(Eventually([&] { return server_->stats().open_connections == 0; }, kBound));
    RawClient client(port_);
    EXPECT_TRUE(client.Send(request));
    std::optional<Reply> reply = client.ReadReply();
    return reply.has_value() ? reply->body : "(no answer)";
  };
  EXPECT_EQ(refusal(Post("/up", std::string(11, 'a'))),
            R"({"refused":413,"why":"request body too large"})");
  EXPECT_EQ(refusal(absl::StrCat("GET / HTTP/1.1\r\nX-Big: ", std::string(600, 'a'), "\r\n\r\n")),
            R"({"refused":431,"why":"request headers too large"})");

  ASSERT_TRUE(Eventually([&] { return server_->stats().open_connections == 0; }, kBound));
  RawClient holder(port_);
  ASSERT_TRUE(Eventually([&] { return server_->stats().open_connections == 1; }, kBound));
  RawClient beyond(port_);
  std::optional<Reply> busy = beyond.ReadReply();
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(busy->status, 503);
  EXPECT_THAT(busy->body, HasSubstr(R"({"refused":503,"why":"server busy)"));
}

TEST_F(ServerTest, StopLetsARequestInProgressFinish) {
  StartServer({}, Hold());
  RawClient client(port_);
  ASSERT_TRUE(client.Send(Get("/slow")));
  ASSERT_TRUE(pending_.AwaitCount(1));

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server_->Stop(absl::Seconds(30));
    stopped = true;
  });
  // Once new connections are refused, Stop is under way.
  EXPECT_TRUE(Eventually([&] { return !RawClient(port_).connected(); }, kBound));
  EXPECT_FALSE(stopped.load()) << "Stop waits for the request in progress";
  Response response;
  response.body = "finished";
  pending_.AnswerOldest(std::move(response));
  std::optional<Reply> reply = client.ReadReply();
  stopper.join();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->body, "finished");
  EXPECT_TRUE(stopped.load());
}

TEST_F(ServerTest, StopGivesUpOnARequestAfterTheGrace) {
  StartServer({}, Hold());
  RawClient client(port_);
  ASSERT_TRUE(client.Send(Get("/never")));
  ASSERT_TRUE(pending_.AwaitCount(1));
  const absl::Time start = absl::Now();
  server_->Stop(absl::Milliseconds(200));
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(200)) << "the request had its grace";
  EXPECT_LT(took, kBound);
  pending_.Clear();  // the handler lets go of the request: its connection closes, unanswered
  EXPECT_TRUE(client.ClosedWithin(kBound));
  EXPECT_EQ(client.buffered(), "");
}

// Stop "closes everything": a kept-alive connection must not stay open, unanswered, until the
// server object is destroyed.
TEST_F(ServerTest, StopClosesKeptAliveConnections) {
  StartServer({}, Echo);
  RawClient client(port_);
  ASSERT_TRUE(client.Send(Get("/once")));
  ASSERT_TRUE(client.ReadReply().has_value());
  server_->Stop(absl::Seconds(5));
  EXPECT_TRUE(client.ClosedWithin(kBound));
}

}  // namespace
}  // namespace booking::http
