#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "metrics/metrics.h"

namespace booking::clients {

struct HttpRequest {
  std::string method;  // "PUT", "POST", ...
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string api;  // which external API, for the metrics ("receipts", "spreadsheets")
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
};

struct HttpClientOptions {
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration total_timeout = absl::Seconds(5);
  // An answer longer than this is cut off and the call fails (UNAVAILABLE): a misbehaving API
  // must not make the service buffer without bound.
  size_t max_response_bytes = 1 << 20;
  metrics::Metrics* metrics = nullptr;  // counts calls by API and status when set
};

// `url` fit for a log line or an error stored in dead_letters: user info and query left out
// ("https://***@host/path?***"), so credentials in either never leave the process.
std::string RedactUrl(std::string_view url);

// A blocking HTTP/1.1 client on libcurl for the external APIs. Keeps a pool of easy handles, so
// connections to the same host are reused across calls; thread-safe. Transport failures come back
// as statuses that say whether a retry can help: UNAVAILABLE (refused, reset, DNS) or
// DEADLINE_EXCEEDED (timeout); a connection that could not be made at all (refused, DNS, the
// client shut down) is marked ApiFailure: it says nothing about the request. An HTTP answer,
// whatever its code, is a response.
class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  [[nodiscard]] absl::StatusOr<HttpResponse> Send(const HttpRequest& request);

  // From now on calls fail at once with UNAVAILABLE, and calls in progress are aborted, so a
  // shutdown is not held up by a slow API (the deliveries are retried by the next instance).
  void Shutdown() { shutdown_.store(true); }

 private:
  [[nodiscard]] absl::StatusOr<HttpResponse> SendOnce(const HttpRequest& request);
  void* Acquire();
  void Release(void* handle);

  const HttpClientOptions options_;
  std::atomic<bool> shutdown_{false};
  struct Pool;
  std::unique_ptr<Pool> pool_;
};

// Maps an HTTP answer to a status: 2xx OK; 408, 429 and 5xx UNAVAILABLE (retry can help), 429 and
// 503 marked as failures of the whole API (ApiFailure, with Retry-After in seconds if given);
// other codes are not retryable (400/422 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403
// PERMISSION_DENIED, 404 NOT_FOUND, 409 ALREADY_EXISTS, the rest FAILED_PRECONDITION). `what`
// names the call; the body's first 200 bytes are quoted, made valid UTF-8 (SafeText).
[[nodiscard]] absl::Status StatusFromHttp(const HttpResponse& response, std::string_view what);

}  // namespace booking::clients
