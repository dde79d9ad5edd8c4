#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/mutex.h"
#include "metrics/metrics.h"

namespace booking::clients {

struct HttpRequest {
  std::string method = {};  // "PUT", "POST", ...
  std::string url = {};
  std::vector<std::pair<std::string, std::string>> headers = {};
  std::string body = {};
  std::string api = {};  // which external API, for the metrics ("receipts", "spreadsheets")
};

struct HttpResponse {
  long status = 0;
  std::string body = {};
  std::string retry_after = {};  // the Retry-After header, if any
};

struct HttpClientOptions {
  absl::Duration connect_timeout = absl::Seconds(2);
  // Per call, from when its transfer starts (time spent queued for a slot is not counted).
  absl::Duration total_timeout = absl::Seconds(5);
  // An answer longer than this is cut off and the call fails (UNAVAILABLE): a misbehaving API
  // must not make the service buffer without bound.
  size_t max_response_bytes = 1 << 20;
  metrics::Metrics* metrics = nullptr;  // counts calls by API and status when set
  // Transfers in flight at most (--api_concurrency), and connections open at most; further
  // calls wait in a queue, first in first out.
  int max_in_flight = 32;
  // Names the event loop's thread, "http-<name>" (Linux keeps 15 characters).
  std::string name = "api";
};

// `url` fit for a log line or an error stored in dead_letters: user info and query left out
// ("https://***@host/path?***"), so credentials in either never leave the process.
std::string RedactUrl(std::string_view url);

// An HTTP/1.1 client on libcurl's multi interface, one per external API: a single event loop
// (a thread of its own) drives all of the API's calls at once, at most `max_in_flight` of them,
// so a slow API costs sockets and memory per call rather than a blocked thread per call. The
// multi handle's connection cache keeps connections to the API open across calls. Thread-safe.
//
// Transport failures come back as statuses that say whether a retry can help: UNAVAILABLE
// (refused, reset, DNS) or DEADLINE_EXCEEDED (timeout); a connection that could not be made at
// all (refused, DNS, the client shut down before the call was sent) is marked ApiFailure: it
// says nothing about the request. An HTTP answer, whatever its code, is a response.
class HttpClient {
 public:
  // Gets a call's result; runs on the loop's thread (or on the caller's, for a call refused at
  // once), so it must be quick and must not wait for this client.
  using Done = absl::AnyInvocable<void(absl::StatusOr<HttpResponse>) &&>;

  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();  // Shutdown(), then joins the loop
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Queues `request` and returns at once; `done` gets its result, exactly once.
  void SendAsync(HttpRequest request, Done done);
  // Sends all `requests` concurrently (within the client's max_in_flight, shared with its other
  // callers) and returns their results in the same order once every one has its result.
  [[nodiscard]] std::vector<absl::StatusOr<HttpResponse>> SendAll(
      std::vector<HttpRequest> requests);
  [[nodiscard]] absl::StatusOr<HttpResponse> Send(const HttpRequest& request);

  // From now on calls fail at once with UNAVAILABLE, and calls in progress are aborted, so a
  // shutdown is not held up by a slow API (the deliveries are retried by the next instance).
  void Shutdown();

  // Transfers in progress and calls waiting for a slot, as of the loop's last turn.
  int in_flight() const;
  int queued() const;

 private:
  struct Transfer;

  // Queues `transfers` in order and returns how long their callers may wait for all of them;
  // leaves them in `transfers` (to fail at once) if the client is shut down.
  absl::Duration Enqueue(std::vector<std::unique_ptr<Transfer>>& transfers);
  // Fails a call that was never sent (shut down, or the loop could not start).
  void Refuse(std::unique_ptr<Transfer> transfer);
  // Counts the call and hands its result to its Done.
  void Complete(std::unique_ptr<Transfer> transfer, absl::StatusOr<HttpResponse> result);
  void Run();  // the event loop

  const HttpClientOptions options_;
  const size_t max_in_flight_;
  void* const multi_;  // CURLM*, used by the loop's thread only (but for curl_multi_wakeup)
  mutable common::Mutex mu_;
  std::deque<std::unique_ptr<Transfer>> queue_ ABSL_GUARDED_BY(mu_);
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::thread loop_;
};

// Maps an HTTP answer to a status: 2xx OK; 408, 429 and 5xx UNAVAILABLE (retry can help), 429 and
// 503 marked as failures of the whole API (ApiFailure, with Retry-After in seconds if given);
// other codes are not retryable (400/422 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403
// PERMISSION_DENIED, 404 NOT_FOUND, 409 ALREADY_EXISTS, the rest FAILED_PRECONDITION). `what`
// names the call; the body's first 200 bytes are quoted, made valid UTF-8 (SafeText).
[[nodiscard]] absl::Status StatusFromHttp(const HttpResponse& response, std::string_view what);

// One call per item through `client`, all at once: `make(item)` builds its request (a refusal is
// that item's result, nothing sent), `receive(item, response)` judges its answer. Results are in
// the items' order.
template <typename Item, typename Make, typename Receive>
void SendEach(HttpClient& client, absl::Span<const Item> items, absl::Span<absl::Status> results,
              Make make, Receive receive) {
  std::vector<HttpRequest> requests;
  std::vector<size_t> sent;  // the item of each request
  for (size_t i = 0; i < items.size(); ++i) {
    absl::StatusOr<HttpRequest> request = make(items[i]);
    if (!request.ok()) {
      results[i] = request.status();
      continue;
    }
    requests.push_back(*std::move(request));
    sent.push_back(i);
  }
  const std::vector<absl::StatusOr<HttpResponse>> responses = client.SendAll(std::move(requests));
  for (size_t k = 0; k < sent.size(); ++k) results[sent[k]] = receive(items[sent[k]], responses[k]);
}

}  // namespace booking::clients
