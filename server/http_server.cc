#include "server/http_server.h"

#include <pthread.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace booking::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::chrono::steady_clock::duration Chrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(d));
}

// One connection: reads a request, hands it to the handler, writes the answer, and reads the
// next (pipelined requests wait in the buffer, so answers keep their order).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServerOptions& options, const HttpServer::Handler& handler,
          std::atomic<int>& in_flight)
      : stream_(std::move(socket)), options_(options), handler_(handler), in_flight_(in_flight) {}

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    // Idle keep-alive connections get idle_timeout; a started request read_timeout.
    stream_.expires_after(
        Chrono(buffer_.size() > 0 ? options_.read_timeout : options_.idle_timeout));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) return Reject(413, "request body too large");
    if (ec == http::error::header_limit) return Reject(431, "request headers too large");
    if (ec) return Close();  // closed, timed out, or not HTTP
    http::request<http::string_body> request = parser_->release();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    GatewayRequest in;
    in.method = std::string(request.method_string());
    in.target = std::string(request.target());
    in.body = std::move(request.body());
    for (const auto& field : request) {
      std::string name(field.name_string());
      absl::AsciiStrToLower(&name);
      if (name == "content-type") in.content_type = std::string(field.value());
      in.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    ++in_flight_;
    handler_(std::move(in), [self = shared_from_this()](GatewayResponse response) {
      // Back onto this connection's strand, whatever thread answered.
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->Write(std::move(response));
      });
    });
  }

  void Reject(int status, const std::string& message) {
    keep_alive_ = false;
    GatewayResponse response;
    response.status = status;
    response.body = ErrorJson(status == 413 ? 8 /*RESOURCE_EXHAUSTED*/ : 3, message);
    ++in_flight_;
    Write(std::move(response));
  }

  void Write(GatewayResponse response) {
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version_ == 0 ? 11 : version_);
    message->set(http::field::server, "booking-server");
    message->set(http::field::content_type, "application/json");
    for (auto& [name, value] : response.headers) message->set(name, value);
    message->body() = std::move(response.body);
    message->keep_alive(keep_alive_);
    message->prepare_payload();
    stream_.expires_after(Chrono(options_.read_timeout));
    http::async_write(stream_, *message,
                      [self = shared_from_this(), message](beast::error_code ec, std::size_t) {
                        --self->in_flight_;
                        if (ec || !self->keep_alive_) return self->Close();
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const HttpServerOptions& options_;
  const HttpServer::Handler& handler_;
  std::atomic<int>& in_flight_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

}  // namespace

struct HttpServer::Impl {
  Impl(HttpServerOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec != asio::error::operation_aborted) {
          spdlog::warn("http accept failed error=\"{}\"", ec.message());
          if (acceptor.is_open()) Accept();
        }
        return;
      }
      std::make_shared<Session>(std::move(socket), options, handler, in_flight)->Start();
      Accept();
    });
  }

  const HttpServerOptions options;
  const Handler handler;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  std::atomic<int> in_flight{0};
  bool started = false;
};

HttpServer::HttpServer(HttpServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { Stop(absl::ZeroDuration()); }

absl::StatusOr<int> HttpServer::Start() {
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

void HttpServer::Stop(absl::Duration grace) {
  if (!impl_->started) return;
  impl_->started = false;
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  const absl::Time deadline = absl::Now() + grace;
  while (impl_->in_flight.load() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  impl_->io.stop();
  for (std::thread& thread : impl_->threads) thread.join();
  impl_->threads.clear();
}

}  // namespace booking::server
