#include "clients/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>  // std::call_once

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/mutex.h"
#include "common/safe_text.h"
#include "domain/handler.h"

namespace booking::clients {
namespace {

constexpr size_t kMaxBodyInError = 200;

// libcurl's progress callback: a non-zero return aborts the transfer.
int AbortOnShutdown(void* shutdown, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(shutdown)->load() ? 1 : 0;
}

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

struct HttpClient::Pool {
  common::Mutex mu;
  std::vector<CURL*> idle ABSL_GUARDED_BY(mu);
};

HttpClient::HttpClient(HttpClientOptions options)
    : options_(options), pool_(std::make_unique<Pool>()) {
  // Not thread-safe, and must precede any other libcurl call; safe to repeat.
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

HttpClient::~HttpClient() {
  for (CURL* handle : pool_->idle) curl_easy_cleanup(handle);
}

void* HttpClient::Acquire() {
  {
    common::MutexLock lock(pool_->mu);
    if (!pool_->idle.empty()) {
      CURL* handle = pool_->idle.back();
      pool_->idle.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void HttpClient::Release(void* handle) {
  common::MutexLock lock(pool_->mu);
  pool_->idle.push_back(static_cast<CURL*>(handle));
}

absl::StatusOr<HttpResponse> HttpClient::SendOnce(const HttpRequest& request) {
  if (shutdown_.load()) {
    return domain::ApiFailure(absl::UnavailableError(absl::StrCat(
        request.method, " ", RedactUrl(request.url), ": not sent, the service is shutting down")));
  }
  CURL* curl = static_cast<CURL*>(Acquire());
  if (curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  // The handle keeps its connection cache across resets; only the options are cleared.
  curl_easy_reset(curl);
  HttpResponse response;
  char error[CURL_ERROR_SIZE] = {};
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.total_timeout)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for timeouts
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &AbortOnShutdown);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &shutdown_);
  BodySink sink{&response.body, options_.max_response_bytes};
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    // A connection left in an unknown state must not be reused.
    curl_easy_cleanup(curl);
    if (sink.overflowed) {
      return absl::UnavailableError(absl::StrCat(request.method, " ", RedactUrl(request.url),
                                                 ": answer longer than ",
                                                 options_.max_response_bytes, " bytes"));
    }
    return StatusFromCurl(code, error, request);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  if (curl_header* retry_after = nullptr;
      curl_easy_header(curl, "Retry-After", 0, CURLH_HEADER, -1, &retry_after) == CURLHE_OK) {
    response.retry_after = std::string(retry_after->value).substr(0, 64);
  }
  Release(curl);
  return response;
}

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  absl::StatusOr<HttpResponse> response = SendOnce(request);
  if (options_.metrics != nullptr) {
    options_.metrics->ExternalCall(request.api.empty() ? "other" : request.api,
                                   response.ok() ? std::to_string(response->status) : "error");
  }
  return response;
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
