#include "http/browser_guard.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/safe_text.h"

namespace booking::http {
namespace {

constexpr size_t kQuotedBytes = 100;  // of a refused header, in the error

struct Authority {
  std::string host;  // lower case, no brackets, no trailing dot
  std::string port;  // "" when absent
};

// host, host:port, [v6], [v6]:port, or a bare IPv6 literal.
Authority ParseAuthority(std::string_view text) {
  Authority out;
  std::string lower = absl::AsciiStrToLower(std::string(text));
  if (absl::StartsWith(lower, "[")) {
    const size_t close = lower.find(']');
    if (close == std::string::npos) return {lower, ""};
    out.host = lower.substr(1, close - 1);
    if (close + 1 < lower.size() && lower[close + 1] == ':') out.port = lower.substr(close + 2);
  } else if (const size_t colon = lower.find(':');
             colon != std::string::npos && lower.find(':', colon + 1) == std::string::npos) {
    out.host = lower.substr(0, colon);
    out.port = lower.substr(colon + 1);
  } else {
    out.host = lower;
  }
  while (absl::EndsWith(out.host, ".")) out.host.pop_back();
  return out;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// scheme://authority of an Origin header, with the scheme's default port made explicit.
std::optional<std::pair<std::string, Authority>> ParseOrigin(std::string_view origin) {
  const size_t sep = origin.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  std::string scheme = absl::AsciiStrToLower(std::string(origin.substr(0, sep)));
  Authority authority = ParseAuthority(origin.substr(sep + 3));
  if (authority.host.empty()) return std::nullopt;
  if (authority.port.empty()) authority.port = scheme == "https" ? "443" : "80";
  return std::make_pair(std::move(scheme), std::move(authority));
}

std::string Normalized(std::string_view origin) {
  std::optional<std::pair<std::string, Authority>> parsed = ParseOrigin(origin);
  if (!parsed.has_value()) return absl::AsciiStrToLower(std::string(origin));
  return absl::StrCat(parsed->first, "://", parsed->second.host, ":", parsed->second.port);
}

// A refused header's value, fit to quote in an error: valid UTF-8, no control characters,
// bounded.
std::string Quoted(std::string_view value) {
  std::string text = common::SafeText(value, kQuotedBytes);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return text;
}

std::string_view HeaderValue(const Request& request, std::string_view name) {
  for (const auto& [header, value] : request.headers) {
    if (header == name) return value;
  }
  return {};
}

bool HasHeader(const Request& request, std::string_view name) {
  for (const auto& [header, value] : request.headers) {
    if (header == name) return true;
  }
  return false;
}

}  // namespace

BrowserGuard::BrowserGuard(const BrowserGuardOptions& options) {
  for (const std::string& host : options.allowed_hosts) {
    if (host == "*") any_host_ = true;
    if (!host.empty()) hosts_.insert(ParseAuthority(host).host);
  }
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0') {
    hosts_.insert(ParseAuthority(name).host);
  }
  for (const std::string& origin : options.allowed_origins) {
    if (origin == "*") any_origin_ = true;
    if (!origin.empty()) origins_.insert(Normalized(origin));
  }
}

bool BrowserGuard::HostAllowed(std::string_view host) const {
  if (any_host_) return true;
  const Authority authority = ParseAuthority(host);
  return IsIpLiteral(authority.host) || authority.host == "localhost" ||
         absl::EndsWith(authority.host, ".localhost") || hosts_.contains(authority.host);
}

absl::Status BrowserGuard::Check(const Request& request) const {
  const std::string_view host = HeaderValue(request, "host");
  if (HasHeader(request, "host") && !HostAllowed(host)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "Host: \"", Quoted(host),
        "\" is not a name of this server; add it to --http_allowed_hosts (a name not listed "
        "could be a DNS rebinding attack)"));
  }
  const std::string& method = request.method;
  if (method == "GET" || method == "HEAD" || method == "OPTIONS" || any_origin_ ||
      !HasHeader(request, "origin")) {
    return absl::OkStatus();
  }
  const std::string_view origin = HeaderValue(request, "origin");
  if (std::optional<std::pair<std::string, Authority>> parsed = ParseOrigin(origin);
      parsed.has_value()) {
    // Same origin: the page was served by this server under the name the request is sent to.
    const Authority to = ParseAuthority(host);
    const std::string to_port = !to.port.empty()           ? to.port
                                : parsed->first == "https" ? "443"
                                                           : "80";
    if (!host.empty() && parsed->second.host == to.host && parsed->second.port == to_port) {
      return absl::OkStatus();
    }
    if (origins_.contains(Normalized(origin))) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "Origin: \"", Quoted(origin),
      "\" may not change anything here: only pages of this server or of --http_allowed_origins "
      "may (",
      method, " from another site's page)"));
}

}  // namespace booking::http
