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
#include "http/types.h"

namespace booking::http {

struct ServerOptions {
  std::string address = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  int threads = 2;
  size_t max_body_bytes = 1 << 20;     // larger bodies get 413
  size_t max_header_bytes = 16 << 10;  // larger headers get 431
  // For one request to arrive in full; the first on a connection too (a new connection that
  // sends nothing is closed after it). Also bounds each write to a client that stops reading.
  absl::Duration read_timeout = absl::Seconds(30);
  absl::Duration idle_timeout = absl::Seconds(60);  // keep-alive connection between requests
  // Connections open at once; beyond it a new one gets 503 (Retry-After) and is closed.
  int max_connections = 1000;
  // Request bodies being received or handled at once, over all connections (each counted at its
  // Content-Length, a chunked one at max_body_bytes): the memory that uploads can take. A
  // request that would pass it gets 503 (Retry-After) before its body is read.
  size_t max_body_memory_bytes = 64 << 20;
  // TLS when both are set (PEM files); with client_ca_file, clients must present a certificate
  // signed by that CA.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // The JSON body of the server's own refusals (413, 431, 503, a malformed request), from their
  // HTTP status and an ASCII message: the REST side renders them as its other errors. Unset:
  // {"status": ..., "message": "..."}.
  std::function<std::string(int status, std::string_view message)> error_body;
};

struct ServerStats {
  int open_connections = 0;
  long long refused_connections = 0;  // at max_connections, or for want of body memory
  size_t body_memory_bytes = 0;       // reserved by requests in progress
};

// An HTTP/1.1 server on Boost.Beast with keep-alive and pipelining (requests on one connection
// are answered in order), its own named threads, and size and time limits. Each request goes to
// `handler`, which answers later through its callback, from any thread.
class Server {
 public:
  using Handler = std::function<void(Request, absl::AnyInvocable<void(Response)>)>;

  Server(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving; returns the port. INVALID_ARGUMENT naming the flag when a TLS file
  // cannot be loaded.
  absl::StatusOr<int> Start();
  // Stops accepting, gives requests in progress up to `grace`, then closes everything.
  void Stop(absl::Duration grace);

  ServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace booking::http
