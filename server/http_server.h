#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/http_types.h"

namespace booking::server {

struct HttpServerOptions {
  std::string address = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  int threads = 2;
  size_t max_body_bytes = 1 << 20;                  // larger bodies get 413
  size_t max_header_bytes = 16 << 10;               // larger headers get 431
  absl::Duration read_timeout = absl::Seconds(30);  // for one request to arrive in full
  absl::Duration idle_timeout = absl::Seconds(60);  // keep-alive connection with no request
  // TLS when both are set (PEM files); with client_ca_file, clients must present a certificate
  // signed by that CA.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
};

// An HTTP/1.1 server on Boost.Beast with keep-alive and pipelining (requests on one connection
// are answered in order), its own named threads, and size and time limits. Each request goes to
// `handler`, which answers later through its callback, from any thread.
class HttpServer {
 public:
  using Handler = std::function<void(GatewayRequest, absl::AnyInvocable<void(GatewayResponse)>)>;

  HttpServer(HttpServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving; returns the port. INVALID_ARGUMENT naming the flag when a TLS file
  // cannot be loaded.
  absl::StatusOr<int> Start();
  // Stops accepting, gives requests in progress up to `grace`, then closes everything.
  void Stop(absl::Duration grace);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace booking::server
