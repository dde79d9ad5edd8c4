#pragma once

#include <curl/curl.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace booking::testing {

struct HttpResult {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  long new_connections = 0;                    // 0 when an open connection was reused
  std::string error;                           // transport error, if any
};

// A plain libcurl client for end-to-end tests; one handle, so connections are kept alive
// between calls.
class HttpCaller {
 public:
  HttpCaller() : curl_(curl_easy_init()) {}
  ~HttpCaller() { curl_easy_cleanup(curl_); }
  HttpCaller(const HttpCaller&) = delete;
  HttpCaller& operator=(const HttpCaller&) = delete;

  HttpResult Call(const std::string& method, const std::string& url, const std::string& body = "",
                  const std::vector<std::string>& headers = {}) {
    HttpResult result;
    curl_easy_reset(curl_);
    curl_slist* list = nullptr;
    for (const std::string& header : headers) list = curl_slist_append(list, header.c_str());
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty() || method == "POST") {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    if (!ca_file_.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, ca_file_.c_str());
    if (!cert_file_.empty()) {
      curl_easy_setopt(curl_, CURLOPT_SSLCERT, cert_file_.c_str());
      curl_easy_setopt(curl_, CURLOPT_SSLKEY, key_file_.c_str());
    }
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Append);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &result.body);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &Header);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &result.headers);
    const CURLcode code = curl_easy_perform(curl_);
    curl_slist_free_all(list);
    if (code != CURLE_OK) {
      result.error = curl_easy_strerror(code);
      return result;
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &result.status);
    curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &result.new_connections);
    return result;
  }

  // For https:// URLs: the CA that signed the server certificate, and the client certificate to
  // present (mutual TLS), if any. PEM files.
  void set_tls(std::string ca_file, std::string cert_file = "", std::string key_file = "") {
    ca_file_ = std::move(ca_file);
    cert_file_ = std::move(cert_file);
    key_file_ = std::move(key_file);
  }

 private:
  static size_t Append(char* data, size_t size, size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
  }
  static size_t Header(char* data, size_t size, size_t count, void* out) {
    std::string line(data, size * count);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      absl::AsciiStrToLower(&name);
      std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
      (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
    }
    return size * count;
  }

  CURL* curl_;
  std::string ca_file_, cert_file_, key_file_;
};

}  // namespace booking::testing
