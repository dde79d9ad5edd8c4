#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "http/types.h"

namespace booking::http {

struct BrowserGuardOptions {
  // Names the Host header may carry besides IP literals and localhost names ("*": any). DNS
  // rebinding always comes with the attacker's own name, so a name not listed is refused.
  std::vector<std::string> allowed_hosts = {};
  // Origins (scheme://host[:port]) whose pages may change state here, besides the server's own
  // ("*": any).
  std::vector<std::string> allowed_origins = {};
};

// What keeps a web page of another site, open in an operator's browser, from using the HTTP port:
// a page of another origin can send (if not read) a POST without a CORS preflight, and with DNS
// rebinding it can also read, under its own host name. So every request's Host must be an IP
// literal, a localhost name or an allowed name, and every state-changing request (any method but
// GET, HEAD and OPTIONS) that carries an Origin must come from the same origin or an allowed one.
// Requests without Origin (curl, SDKs, server-side clients) are not a browser's cross-site ones.
class BrowserGuard {
 public:
  explicit BrowserGuard(const BrowserGuardOptions& options);

  // OK, or PERMISSION_DENIED naming the header and the flag that would allow it.
  [[nodiscard]] absl::Status Check(const Request& request) const;

 private:
  bool HostAllowed(std::string_view host) const;

  bool any_host_ = false;
  bool any_origin_ = false;
  absl::flat_hash_set<std::string> hosts_;    // lower case, no port
  absl::flat_hash_set<std::string> origins_;  // lower case, scheme://host:port
};

}  // namespace booking::http
