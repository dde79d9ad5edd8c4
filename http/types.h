#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"

namespace booking::http {

// An HTTP request as a handler sees it, independent of the HTTP library.
struct Request {
  std::string method = {};        // "GET", "POST", ...
  std::string target = {};        // path and query, e.g. "/v1/tickets?page_size=10"
  std::string content_type = {};  // "" when absent
  std::string body = {};
  // Headers, names in lower case.
  std::vector<std::pair<std::string, std::string>> headers = {};
  std::string peer = {};  // the client's IP address, as the server's socket sees it
};

// A response body made piece by piece, sent with chunked transfer encoding: the server asks for
// the next piece only once the previous one is written, so a slow client holds back the
// producer instead of filling memory.
class BodyStream {
 public:
  using Deliver = absl::AnyInvocable<void(absl::StatusOr<std::string>) &&>;
  virtual ~BodyStream() = default;
  // Calls `deliver` once, from any thread: the next piece; an empty piece at the end; or an error
  // (the connection is then closed without the last chunk, so the client sees a cut body).
  virtual void Next(Deliver deliver) = 0;
  // The client went away while a Next may be waiting: end soon (that Next then gets the end or
  // an error) and let go of what the stream holds. From any thread, maybe more than once.
  virtual void Abandon() {}
};

struct Response {
  int status = 200;
  std::string body = {};                                          // JSON
  std::vector<std::pair<std::string, std::string>> headers = {};  // besides Content-Type
  std::shared_ptr<BodyStream> stream = {};                        // set: the body comes from it
};

}  // namespace booking::http
