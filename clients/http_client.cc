#include "clients/http_client.h"

#include <curl/curl.h>
#include <pthread.h>

#include <algorithm>
#include <mutex>  // std::call_once
#include <unordered_map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/safe_text.h"
#include "domain/handler.h"
#include "spdlog/spdlog.h"

namespace booking::clients {
namespace {

constexpr size_t kMaxBodyInError = 200;
// The loop sleeps at most this long without activity (libcurl's own timers wake it sooner).
constexpr int kPollBoundMs = 1000;
// A wait for a call whose transfer has no total timeout (--http_timeout=0) still has a bound.
constexpr absl::Duration kUnboundedCallWait = absl::Hours(1);

struct BodySink {
  std::string* body;
  size_t limit;
  bool overflowed = false;
};

size_t AppendBody(char* data, size_t size, size_t count, void* out) {
  auto* sink = static_cast<BodySink*>(out);
  if (sink->body->size() + size * count > sink->limit) {
    sink->overflowed = true;
    return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
  }
  sink->body->append(data, size * count);
  return size * count;
}

absl::Status StatusFromCurl(CURLcode code, const char* detail, const HttpRequest& request) {
  const std::string message = absl::StrCat(request.method, " ", RedactUrl(request.url), ": ",
                                           *detail != '\0' ? detail : curl_easy_strerror(code));
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(message);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return absl::InvalidArgumentError(message);
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      // Nothing reached the API: it is away for every request, not refusing this one.
      return domain::ApiFailure(absl::UnavailableError(message));
    default:  // reset, TLS, a broken answer: the network or the peer, so a retry can help
      return absl::UnavailableError(message);
  }
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  std::string out(url);
  const size_t scheme = out.find("://");
  const size_t host = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t path = out.find_first_of("/?#", host);
  const size_t at = out.rfind('@', path == std::string::npos ? out.size() : path);
  if (at != std::string::npos && at >= host) out.replace(host, at - host, "***");
  if (const size_t query = out.find('?'); query != std::string::npos) {
    out.replace(query + 1, std::string::npos, "***");
  }
  return out;
}

struct HttpClient::Transfer {
  HttpRequest request;
  Done done;
  // Set while the transfer runs: libcurl reads these until it ends.
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  HttpResponse response;
  BodySink sink{&response.body, 0};

  ~Transfer() { curl_slist_free_all(headers); }
};

HttpClient::HttpClient(HttpClientOptions options)
    : options_(std::move(options)),
      max_in_flight_(static_cast<size_t>(std::max(1, options_.max_in_flight))),
      multi_([] {
        // Not thread-safe, and must precede any other libcurl call; safe to repeat.
        static std::once_flag init;
        std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
        return curl_multi_init();
      }()) {
  if (multi_ == nullptr) return;  // every call fails (Refuse)
  CURLM* multi = static_cast<CURLM*>(multi_);
  const long limit = static_cast<long>(max_in_flight_);
  // As many connections as calls in flight, kept open between calls (the cache would otherwise
  // size itself to 4 per handle ever added), and never more open at once.
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, limit);
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, limit);
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, limit);
  loop_ = std::thread([this] {
    // Linux limits thread names to 15 characters.
    pthread_setname_np(pthread_self(), absl::StrCat("http-", options_.name).substr(0, 15).c_str());
    Run();
  });
}

HttpClient::~HttpClient() {
  Shutdown();
  if (loop_.joinable()) loop_.join();
  if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void HttpClient::Shutdown() {
  {
    common::MutexLock lock(mu_);
    if (shutdown_) return;
    shutdown_ = true;
  }
  if (multi_ != nullptr) curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

int HttpClient::in_flight() const {
  common::MutexLock lock(mu_);
  return static_cast<int>(in_flight_);
}

int HttpClient::queued() const {
  common::MutexLock lock(mu_);
  return static_cast<int>(queue_.size());
}

absl::Duration HttpClient::Enqueue(std::vector<std::unique_ptr<Transfer>>& transfers) {
  const size_t count = transfers.size();
  size_t ahead = 0;
  {
    common::MutexLock lock(mu_);
    if (shutdown_ || multi_ == nullptr) return absl::ZeroDuration();
    ahead = in_flight_ + queue_.size();
    for (std::unique_ptr<Transfer>& transfer : transfers) queue_.push_back(std::move(transfer));
  }
  transfers.clear();
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  // FIFO, and every transfer ends within its total timeout: the last of these has started by
  // the time `waves` slot-fulls ahead of it have ended. One more wave and a second of margin.
  const size_t waves = (ahead + count + max_in_flight_ - 1) / max_in_flight_;
  const absl::Duration per_call =
      options_.total_timeout > absl::ZeroDuration() ? options_.total_timeout : kUnboundedCallWait;
  return per_call * static_cast<int64_t>(waves + 1) + absl::Seconds(1);
}

void HttpClient::Refuse(std::unique_ptr<Transfer> transfer) {
  const HttpRequest& request = transfer->request;
  absl::Status refused = multi_ == nullptr ? absl::ResourceExhaustedError("curl_multi_init failed")
                                           : domain::ApiFailure(absl::UnavailableError(absl::StrCat(
                                                 request.method, " ", RedactUrl(request.url),
                                                 ": not sent, the service is shutting down")));
  Complete(std::move(transfer), std::move(refused));
}

void HttpClient::Complete(std::unique_ptr<Transfer> transfer, absl::StatusOr<HttpResponse> result) {
  if (options_.metrics != nullptr) {
    const std::string& api = transfer->request.api;
    options_.metrics->ExternalCall(api.empty() ? "other" : api,
                                   result.ok() ? std::to_string(result->status) : "error");
  }
  std::move(transfer->done)(std::move(result));
}

void HttpClient::SendAsync(HttpRequest request, Done done) {
  std::vector<std::unique_ptr<Transfer>> transfers;
  transfers.push_back(std::make_unique<Transfer>());
  transfers[0]->request = std::move(request);
  transfers[0]->done = std::move(done);
  (void)Enqueue(transfers);
  for (std::unique_ptr<Transfer>& refused : transfers) Refuse(std::move(refused));
}

std::vector<absl::StatusOr<HttpResponse>> HttpClient::SendAll(std::vector<HttpRequest> requests) {
  if (requests.empty()) return {};
  // Shared with the Dones, so that a caller that stops waiting (the bound ran out: a stuck
  // loop) leaves nothing dangling for a late result.
  struct Batch {
    common::Mutex mu;
    common::CondVar done;
    std::vector<absl::StatusOr<HttpResponse>> results ABSL_GUARDED_BY(mu);
    size_t left ABSL_GUARDED_BY(mu) = 0;
  };
  auto batch = std::make_shared<Batch>();
  {
    common::MutexLock lock(batch->mu);
    batch->results.assign(requests.size(), absl::DeadlineExceededError("no result in time"));
    batch->left = requests.size();
  }
  std::vector<std::unique_ptr<Transfer>> transfers;
  transfers.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    auto transfer = std::make_unique<Transfer>();
    transfer->request = std::move(requests[i]);
    transfer->done = [batch, i](absl::StatusOr<HttpResponse> result) {
      common::MutexLock lock(batch->mu);
      batch->results[i] = std::move(result);
      if (--batch->left == 0) batch->done.NotifyAll();
    };
    transfers.push_back(std::move(transfer));
  }
  const absl::Duration bound = Enqueue(transfers);
  for (std::unique_ptr<Transfer>& refused : transfers) Refuse(std::move(refused));
  common::MutexLock lock(batch->mu);
  if (!batch->done.AwaitFor(batch->mu, bound, [&batch]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(batch->mu) {
        return batch->left == 0;
      })) {
    spdlog::error("external calls without a result in time api={} calls={} unanswered={}",
                  options_.name, batch->results.size(), batch->left);
    return batch->results;  // a copy: late results still land in the batch
  }
  return std::move(batch->results);  // every Done has run: nothing touches them any more
}

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  std::vector<HttpRequest> one{request};
  return std::move(SendAll(std::move(one))[0]);
}

void HttpClient::Run() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  // The loop's own: transfers in progress, by handle, and handles to reuse.
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> running;
  std::vector<CURL*> idle;
  // Sets up `transfer`'s handle and adds it to the multi handle.
  auto start = [&](Transfer& transfer) -> absl::Status {
    CURL* curl = nullptr;
    if (!idle.empty()) {
      curl = idle.back();
      idle.pop_back();
      curl_easy_reset(curl);  // only the options are cleared
    } else {
      curl = curl_easy_init();
    }
    if (curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
    const HttpRequest& request = transfer.request;
    for (const auto& [name, value] : request.headers) {
      transfer.headers =
          curl_slist_append(transfer.headers, absl::StrCat(name, ": ", value).c_str());
    }
    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, transfer.headers);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.total_timeout)));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM, no SIGPIPE handler
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, transfer.error);
    transfer.sink.limit = options_.max_response_bytes;
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer.sink);
    // An announced length past the bound ends the call before its body is read.
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(options_.max_response_bytes));
    if (curl_multi_add_handle(multi, curl) != CURLM_OK) {
      curl_easy_cleanup(curl);
      return absl::InternalError("curl_multi_add_handle failed");
    }
    transfer.curl = curl;
    return absl::OkStatus();
  };
  // Takes a finished transfer off the multi handle; its result.
  auto finish = [&](Transfer& transfer, CURLcode code) -> absl::StatusOr<HttpResponse> {
    CURL* curl = transfer.curl;
    transfer.curl = nullptr;
    const HttpRequest& request = transfer.request;
    absl::StatusOr<HttpResponse> result;
    if (code != CURLE_OK) {
      result = transfer.sink.overflowed || code == CURLE_FILESIZE_EXCEEDED
                   ? absl::UnavailableError(absl::StrCat(
                         request.method, " ", RedactUrl(request.url), ": answer longer than ",
                         options_.max_response_bytes, " bytes"))
                   : StatusFromCurl(code, transfer.error, request);
    } else {
      HttpResponse& response = transfer.response;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
      if (curl_header* retry_after = nullptr;
          curl_easy_header(curl, "Retry-After", 0, CURLH_HEADER, -1, &retry_after) == CURLHE_OK) {
        response.retry_after = std::string(retry_after->value).substr(0, 64);
      }
      result = std::move(response);
    }
    curl_multi_remove_handle(multi, curl);
    // A handle whose transfer failed starts afresh (libcurl closes a connection it cannot
    // trust either way; the connections live in the multi handle's cache, not in the handle).
    if (code == CURLE_OK && idle.size() < max_in_flight_) {
      idle.push_back(curl);
    } else {
      curl_easy_cleanup(curl);
    }
    return result;
  };

  // A slot comes free before the call's Done runs, so its caller never sees it still taken.
  auto release_slot = [this] {
    common::MutexLock lock(mu_);
    --in_flight_;
  };
  while (true) {
    std::vector<std::unique_ptr<Transfer>> starting;
    std::deque<std::unique_ptr<Transfer>> unsent;
    bool stopping = false;
    {
      common::MutexLock lock(mu_);
      stopping = shutdown_;
      if (stopping) {
        unsent.swap(queue_);
        in_flight_ = 0;
      } else {
        while (!queue_.empty() && running.size() + starting.size() < max_in_flight_) {
          starting.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        in_flight_ = running.size() + starting.size();
      }
    }
    if (stopping) {
      for (auto& [curl, transfer] : running) {
        curl_multi_remove_handle(multi, curl);  // aborts the transfer
        curl_easy_cleanup(curl);
        transfer->curl = nullptr;
        const HttpRequest& request = transfer->request;
        // It may have reached the API: a failure of this call, not ApiFailure.
        Complete(std::move(transfer),
                 absl::UnavailableError(absl::StrCat(request.method, " ", RedactUrl(request.url),
                                                     ": aborted, the service is shutting down")));
      }
      running.clear();
      for (std::unique_ptr<Transfer>& transfer : unsent) Refuse(std::move(transfer));
      for (CURL* curl : idle) curl_easy_cleanup(curl);
      return;
    }
    for (std::unique_ptr<Transfer>& transfer : starting) {
      if (absl::Status started = start(*transfer); !started.ok()) {
        release_slot();
        Complete(std::move(transfer), std::move(started));
        continue;
      }
      CURL* curl = transfer->curl;
      running.emplace(curl, std::move(transfer));
    }
    int active = 0;
    curl_multi_perform(multi, &active);
    int left = 0;
    bool ended = false;
    while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      // Copied: the message does not outlive curl_multi_remove_handle.
      CURL* const curl = message->easy_handle;
      const CURLcode code = message->data.result;
      auto it = running.find(curl);
      if (it == running.end()) continue;
      std::unique_ptr<Transfer> transfer = std::move(it->second);
      running.erase(it);
      absl::StatusOr<HttpResponse> result = finish(*transfer, code);
      release_slot();
      Complete(std::move(transfer), std::move(result));
      ended = true;
    }
    if (ended) {
      // Slots came free: start what waits for them before sleeping.
      common::MutexLock lock(mu_);
      if (!queue_.empty() || shutdown_) continue;
    }
    // Until a socket is ready, one of libcurl's timers (timeouts) is due, a call is queued or
    // the client shuts down (curl_multi_wakeup), or the bound.
    if (curl_multi_poll(multi, nullptr, 0, kPollBoundMs, nullptr) != CURLM_OK) {
      absl::SleepFor(absl::Milliseconds(10));  // never a busy loop, whatever failed
    }
  }
}

absl::Status StatusFromHttp(const HttpResponse& response, std::string_view what) {
  const long code = response.status;
  if (code >= 200 && code < 300) return absl::OkStatus();
  const std::string message = absl::StrCat(std::string(what), ": HTTP ", code, " ",
                                           common::SafeText(response.body, kMaxBodyInError));
  if (code == 429 || code == 503) {
    // Retry-After in seconds (an HTTP date is rare from APIs, and then the backoff decides).
    int seconds = 0;
    const bool given = absl::SimpleAtoi(response.retry_after, &seconds) && seconds > 0;
    return domain::ApiFailure(
        absl::UnavailableError(message),
        given ? absl::Seconds(std::min(seconds, 3600)) : absl::ZeroDuration());
  }
  if (code == 408 || code >= 500) return absl::UnavailableError(message);
  switch (code) {
    case 400:
    case 422:
      return absl::InvalidArgumentError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 409:
      return absl::AlreadyExistsError(message);
    default:
      return absl::FailedPreconditionError(message);
  }
}

}  // namespace booking::clients
