#include "http/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log_value.h"
#include "common/reservation.h"
#include "spdlog/spdlog.h"

namespace booking::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::chrono::steady_clock::duration Chrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(d));
}

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// An io_context whose services Stop can shut down before it is destroyed: that destroys every
// operation still pending, and with them the sessions they keep, closing their connections.
class IoContext : public asio::io_context {
 public:
  using asio::execution_context::shutdown;
};

// What the server and all its sessions count together.
struct Shared {
  std::atomic<int> in_flight{0};  // requests read and not yet answered
  std::atomic<size_t> connections{0};
  std::atomic<size_t> body_memory{0};
  std::atomic<long long> refused{0};
};

// The answer to a connection or request refused for want of capacity.
constexpr std::string_view kBusyMessage =
    "server busy: too many HTTP connections or uploads; retry";

// A parse error of the request itself (a bad method, target, header, length or chunk), as
// opposed to the client going away in the middle of one: that client is told 400 before the
// close, so a curl user sees why.
bool Malformed(beast::error_code ec) {
  static const boost::system::error_category& parsing =
      bhttp::make_error_code(bhttp::error::bad_method).category();
  return ec && ec.category() == parsing && ec != bhttp::error::end_of_stream &&
         ec != bhttp::error::partial_message && ec != bhttp::error::need_more &&
         ec != bhttp::error::need_buffer && ec != bhttp::error::unexpected_body;
}

std::string ErrorBody(const ServerOptions& options, int status, std::string_view message) {
  if (options.error_body) return options.error_body(status, message);
  // The server's own messages are plain ASCII, so they need no escaping.
  return absl::StrCat("{\"status\":", status, ",\"message\":\"", std::string(message), "\"}");
}

// One connection: reads a request, hands it to the handler, writes the answer, and reads the
// next (pipelined requests wait in the buffer, so answers keep their order). `Stream` is a plain
// TCP stream or a TLS one over it; a TLS session starts with the handshake.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Session(tcp::socket socket, asio::ssl::context* tls, const ServerOptions& options,
          const Server::Handler& handler, Shared& shared, common::Reservation connection)
      : stream_(MakeStream(std::move(socket), tls)),
        // Room for the largest header and a little more: a read never pulls more of a body (or
        // of pipelined requests) off the socket than that, so a connection costs this much
        // beyond its reserved body, however much the client has sent.
        buffer_(options.max_header_bytes + kReadAheadBytes),
        options_(options),
        handler_(handler),
        shared_(shared),
        in_flight_(shared.in_flight),
        connection_(std::move(connection)) {}

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        beast::get_lowest_layer(self->stream_).expires_after(Chrono(self->options_.read_timeout));
        self->stream_.async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
          // Wrong or missing client certificate, not TLS, ...
          if (ec) return self->CloseTransport();
          self->Read();
        });
      } else {
        self->Read();
      }
    });
  }

 private:
  static Stream MakeStream(tcp::socket socket, asio::ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  // The header first: the body is read only once the memory it needs is reserved.
  void Read() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    // A keep-alive connection between requests gets idle_timeout; a new connection, or a
    // request already started, read_timeout.
    waiting_idle_ = !first_request_ && buffer_.size() == 0;
    first_request_ = false;
    beast::get_lowest_layer(stream_).expires_after(
        Chrono(waiting_idle_ ? options_.idle_timeout : options_.read_timeout));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               self->OnHeader(ec);
                             });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnRead(ec);
    if (parser_->is_done()) return OnRead(ec);  // no body
    const size_t needed = parser_->content_length().has_value()
                              ? static_cast<size_t>(*parser_->content_length())
                              : options_.max_body_bytes;  // chunked: up to the limit
    std::optional<common::Reservation> memory =
        common::Reservation::TryTake(shared_.body_memory, needed, options_.max_body_memory_bytes);
    if (!memory.has_value()) {
      ++shared_.refused;
      return Reject(503, std::string(kBusyMessage));
    }
    body_memory_ = *std::move(memory);
    if (waiting_idle_) {
      beast::get_lowest_layer(stream_).expires_after(Chrono(options_.read_timeout));
    }
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return Reject(413, "request body too large");
    if (ec == bhttp::error::header_limit) return Reject(431, "request headers too large");
    if (Malformed(ec)) return Reject(400, "malformed HTTP request");
    if (ec) return Close();  // closed or timed out
    bhttp::request<bhttp::string_body> request = parser_->release();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    Request in;
    in.method = std::string(request.method_string());
    in.target = std::string(request.target());
    in.body = std::move(request.body());
    beast::error_code peer_error;
    const tcp::endpoint peer =
        beast::get_lowest_layer(stream_).socket().remote_endpoint(peer_error);
    if (!peer_error) in.peer = peer.address().to_string();
    for (const auto& field : request) {
      std::string name(field.name_string());
      absl::AsciiStrToLower(&name);
      if (name == "content-type") in.content_type = std::string(field.value());
      in.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    ++in_flight_;
    handler_(std::move(in), [self = this->shared_from_this()](Response response) {
      // Back onto this connection's strand, whatever thread answered.
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->Write(std::move(response));
      });
    });
  }

  void Reject(int status, const std::string& message) {
    keep_alive_ = false;
    Response response;
    response.status = status;
    response.body = ErrorBody(options_, status, message);
    if (status == 503) response.headers.emplace_back("Retry-After", "1");
    ++in_flight_;
    Write(std::move(response));
  }

  void Write(Response response) {
    body_memory_.Reset();  // the handler is done with the request
    if (response.stream != nullptr) return WriteStreamed(std::move(response));
    auto message = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(response.status), version_ == 0 ? 11 : version_);
    message->set(bhttp::field::server, "booking-server");
    message->set(bhttp::field::content_type, "application/json");
    for (auto& [name, value] : response.headers) message->set(name, value);
    message->body() = std::move(response.body);
    message->keep_alive(keep_alive_);
    message->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(Chrono(options_.read_timeout));
    bhttp::async_write(
        stream_, *message,
        [self = this->shared_from_this(), message](beast::error_code ec, std::size_t) {
          --self->in_flight_;
          if (ec || !self->keep_alive_) return self->Close();
          self->Read();
        });
  }

  // The header, then each piece of the body as a chunk when the previous one is written.
  void WriteStreamed(Response response) {
    streaming_ = true;
    auto header = std::make_shared<bhttp::response<bhttp::empty_body>>(
        static_cast<bhttp::status>(response.status), version_ == 0 ? 11 : version_);
    header->set(bhttp::field::server, "booking-server");
    header->set(bhttp::field::content_type, "application/json");
    for (auto& [name, value] : response.headers) header->set(name, value);
    header->keep_alive(keep_alive_);
    header->chunked(true);
    auto serializer = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*header);
    beast::get_lowest_layer(stream_).expires_after(Chrono(options_.read_timeout));
    bhttp::async_write_header(
        stream_, *serializer,
        [self = this->shared_from_this(), header, serializer, body = std::move(response.stream)](
            beast::error_code ec, std::size_t) {
          if (ec) return self->EndStream(false);
          self->WatchPeer(body);
          self->NextChunk(body);
        });
  }

  // While a body streams nothing is read, so a client that went away would go unnoticed for as
  // long as the stream has nothing to say (a quiet watch: for ever). Waits for the socket to
  // become readable: with nothing to read, that is the peer's end (or an error), and the body
  // is abandoned at once. Bytes to read are a pipelined request: left for after the stream, and
  // the heartbeats' writes then find a dead peer instead.
  void WatchPeer(const std::shared_ptr<BodyStream>& body) {
    const int stream = ++stream_number_;
    std::weak_ptr<BodyStream> watched = body;
    beast::get_lowest_layer(stream_).socket().async_wait(
        tcp::socket::wait_read,
        [self = this->shared_from_this(), stream, watched](beast::error_code ec) {
          if (ec == asio::error::operation_aborted || stream != self->stream_number_ ||
              !self->streaming_) {
            return;  // the stream ended first
          }
          beast::error_code ignored;
          if (!ec && beast::get_lowest_layer(self->stream_).socket().available(ignored) > 0) {
            return;
          }
          if (std::shared_ptr<BodyStream> body = watched.lock()) body->Abandon();
        });
  }

  void NextChunk(std::shared_ptr<BodyStream> body) {
    body->Next([self = this->shared_from_this(), body](absl::StatusOr<std::string> piece) mutable {
      asio::post(self->stream_.get_executor(), [self, body, piece = std::move(piece)]() mutable {
        // A client that stops reading is cut off after read_timeout, like any other write.
        beast::get_lowest_layer(self->stream_).expires_after(Chrono(self->options_.read_timeout));
        if (!piece.ok()) return self->EndStream(false);  // no last chunk: the body is cut
        if (piece->empty()) {
          asio::async_write(self->stream_, bhttp::make_chunk_last(),
                            [self](beast::error_code ec, std::size_t) { self->EndStream(!ec); });
          return;
        }
        auto data = std::make_shared<std::string>(*std::move(piece));
        asio::async_write(self->stream_, bhttp::make_chunk(asio::buffer(*data)),
                          [self, body, data](beast::error_code ec, std::size_t) {
                            if (ec) return self->EndStream(false);
                            self->NextChunk(body);
                          });
      });
    });
  }

  void EndStream(bool complete) {
    streaming_ = false;  // a peer watch still waiting ignores what it sees
    --in_flight_;
    if (!complete || !keep_alive_) return Close();
    Read();
  }

  void Close() {
    if constexpr (kTls) {
      // close_notify first, so the client knows the answer was complete; bounded by the timer.
      beast::get_lowest_layer(stream_).expires_after(Chrono(options_.read_timeout));
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->CloseTransport(); });
    } else {
      CloseTransport();
    }
  }

  void CloseTransport() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ignored);
    beast::get_lowest_layer(stream_).close();
  }

  Stream stream_;
  static constexpr size_t kReadAheadBytes = 16 << 10;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const ServerOptions& options_;
  const Server::Handler& handler_;
  Shared& shared_;
  std::atomic<int>& in_flight_;
  common::Reservation connection_;   // one of max_connections, for the session's life
  common::Reservation body_memory_;  // the request body's share, from its header to the answer
  int stream_number_ = 0;   // streamed responses so far: tells a peer watch which is its own
  bool streaming_ = false;  // a streamed body is being written
  bool first_request_ = true;
  bool waiting_idle_ = false;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, Handler h)
      : options(std::move(o)), handler(std::move(h)), busy_answer([this] {
          const std::string body = ErrorBody(options, 503, kBusyMessage);
          return absl::StrCat(
              "HTTP/1.1 503 Service Unavailable\r\nServer: booking-server\r\n"
              "Content-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
              "Content-Length: ",
              body.size(), "\r\n\r\n", body);
        }()) {}

  // One accept at a time, so the handler's state needs no lock.
  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        // Out of descriptors (EMFILE) and the like: accepting again at once would spin and log
        // without end. Wait, doubling from 10 ms to 1 s, with one warning per second at most.
        accept_backoff = std::clamp(accept_backoff * 2, absl::Milliseconds(10), absl::Seconds(1));
        if (absl::Now() - last_accept_warning >= absl::Seconds(1)) {
          last_accept_warning = absl::Now();
          spdlog::warn("http accept failed, backing off error={} retry_in_ms={}",
                       common::LogValue(ec.message()), absl::ToInt64Milliseconds(accept_backoff));
        }
        accept_timer.expires_after(Chrono(accept_backoff));
        accept_timer.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec && acceptor.is_open()) Accept();
        });
        return;
      }
      accept_backoff = absl::ZeroDuration();
      // Data unacknowledged for read_timeout ends the connection: a peer that vanished without
      // a word (no FIN, no RST) is found by the next write, a stream's heartbeat at the latest.
      const unsigned int user_timeout_ms =
          static_cast<unsigned int>(absl::ToInt64Milliseconds(options.read_timeout));
      ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
                   sizeof user_timeout_ms);
      std::optional<common::Reservation> slot = common::Reservation::TryTake(
          shared.connections, 1, static_cast<size_t>(std::max(1, options.max_connections)));
      if (!slot.has_value()) {
        Refuse(std::move(socket));
      } else if (tls) {
        std::make_shared<Session<TlsStream>>(std::move(socket), tls.get(), options, handler, shared,
                                             *std::move(slot))
            ->Start();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(std::move(socket), nullptr, options, handler,
                                                     shared, *std::move(slot))
            ->Start();
      }
      Accept();
    });
  }

  // At max_connections: a plain-HTTP client gets a 503 it can read (the kernel's buffer takes
  // it at once, or not at all), then the connection closes. No session, no timer, no memory.
  void Refuse(tcp::socket socket) {
    ++shared.refused;
    if (absl::Now() - last_refusal_warning >= absl::Seconds(1)) {
      last_refusal_warning = absl::Now();
      spdlog::warn("http connections at max_http_connections={}: refusing new ones",
                   options.max_connections);
    }
    beast::error_code ignored;
    if (!tls) {
      socket.non_blocking(true, ignored);
      socket.write_some(asio::buffer(busy_answer), ignored);
    }
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
  }

  const ServerOptions options;
  const Handler handler;
  const std::string busy_answer;  // what a connection beyond max_connections reads, in full
  Shared shared;  // outlives io: sessions destroyed with io give their reservations back here
  IoContext io;
  // Keeps the threads running while nothing is pending on any socket: a streamed response that
  // waits for its next piece (a quiet watch) has no operation in flight, and once the acceptor
  // closes at Stop, run() would return and the piece, posted later, would never be written.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> keep_running{
      asio::make_work_guard(io)};
  // The acceptor, its timer and their handlers on one strand: Stop's close then never runs on
  // one io thread while another thread's accept handler arms the next accept (a crash in
  // epoll_reactor::start_op, 1 stop in about 100 under test).
  asio::strand<IoContext::executor_type> accept_strand = asio::make_strand(io);
  tcp::acceptor acceptor{accept_strand};
  asio::steady_timer accept_timer{accept_strand};
  absl::Duration accept_backoff;
  absl::Time last_accept_warning = absl::InfinitePast();
  absl::Time last_refusal_warning = absl::InfinitePast();
  std::unique_ptr<asio::ssl::context> tls;  // null: plain HTTP
  std::vector<std::thread> threads;
  bool started = false;
};

Server::Server(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::~Server() { Stop(absl::ZeroDuration()); }

namespace {

absl::StatusOr<std::unique_ptr<asio::ssl::context>> MakeTlsContext(const ServerOptions& options) {
  auto tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  beast::error_code ec;
  tls->use_certificate_chain_file(options.tls_cert_file, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls_cert_file: ", options.tls_cert_file, ": ", ec.message()));
  }
  tls->use_private_key_file(options.tls_key_file, asio::ssl::context::pem, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls_key_file: ", options.tls_key_file, ": ", ec.message()));
  }
  if (!options.tls_client_ca_file.empty()) {
    tls->load_verify_file(options.tls_client_ca_file, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls_client_ca_file: ", options.tls_client_ca_file, ": ", ec.message()));
    }
    tls->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  return tls;
}

}  // namespace

absl::StatusOr<int> Server::Start() {
  if (!impl_->options.tls_cert_file.empty() || !impl_->options.tls_key_file.empty()) {
    absl::StatusOr<std::unique_ptr<asio::ssl::context>> tls = MakeTlsContext(impl_->options);
    if (!tls.ok()) return tls.status();
    impl_->tls = *std::move(tls);
  }
  const std::string& address = impl_->options.address;
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("http_addr: must be host:port, got \"", address, "\""));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("http_addr: bad host \"", host, "\""));
  const tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
  tcp::acceptor& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", ec.message()));
  }
  impl_->Accept();
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
    impl_->threads.emplace_back([this, i] {
      const std::string name = absl::StrCat("http-", i);
      pthread_setname_np(pthread_self(), name.c_str());
      impl_->io.run();
    });
  }
  impl_->started = true;
  return static_cast<int>(acceptor.local_endpoint().port());
}

void Server::Stop(absl::Duration grace) {
  if (!impl_->started) return;
  impl_->started = false;
  asio::post(impl_->accept_strand, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->accept_timer.cancel();
  });
  const absl::Time deadline = absl::Now() + grace;
  while (impl_->shared.in_flight.load() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  impl_->keep_running.reset();
  impl_->io.stop();
  for (std::thread& thread : impl_->threads) thread.join();
  impl_->threads.clear();
  // Stopped, io still holds the connections waiting on a read (kept alive between requests) or a
  // write: open, and answering nothing, until the server is destroyed. Close them now. (One whose
  // request a handler still holds closes when the handler answers or lets go of it.)
  impl_->io.shutdown();
}

ServerStats Server::stats() const {
  ServerStats stats;
  stats.open_connections = static_cast<int>(impl_->shared.connections.load());
  stats.refused_connections = impl_->shared.refused.load();
  stats.body_memory_bytes = impl_->shared.body_memory.load();
  return stats;
}

}  // namespace booking::http
