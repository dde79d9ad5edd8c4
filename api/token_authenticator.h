#pragma once

#include <grpcpp/server_context.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/mutex.h"

namespace booking::api {

// What a token may do. A box office needs kWrite (and kRead when reads are protected); an
// operator kAdmin; a Prometheus scraper kMetrics.
enum class Scope : unsigned {
  kWrite = 1,    // UpdateTicketsStatus
  kRead = 2,     // ListTickets, GetTicket (with --auth_reads)
  kAdmin = 4,    // AdminService: dead letters, handler status
  kMetrics = 8,  // GET /metrics (with --auth_metrics)
};
std::string_view ScopeName(Scope scope);

// Bearer tokens accepted on the protected RPCs, read from a file and re-read by Reload (the
// server calls it on SIGHUP), so a token can be added or revoked without a restart. One token
// per line, followed by its scopes and optionally the caller it speaks for; blank lines and
// lines starting with '#' are ignored:
//
//   box-office-7f3a9c  write,read  caller=office-7
//   box-office-0c41d2  write,read  caller=office-7   (office-7's next token, during a rotation)
//   ops-21be44         admin,metrics
//
// The caller scopes idempotency keys (a key names one call of that caller) and shares of
// per-client limits. Without caller=, a token is a caller of its own, named "token-" and 16 hex
// digits of the token's SHA-256 (so never the token). A token with no scopes may do everything
// (the format before scopes existed); loading warns about each. Tokens are compared in constant
// time and never logged. Thread-safe.
class TokenAuthenticator {
 public:
  // INVALID_ARGUMENT naming the file when it cannot be read or holds no token.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TokenAuthenticator>> FromFile(
      std::string path);

  // Re-reads the file; on failure keeps the tokens it had. Returns how many are accepted now.
  [[nodiscard]] absl::StatusOr<size_t> Reload();

  // OK when the call's `authorization` metadata is `Bearer <accepted token>` with `scope`;
  // UNAUTHENTICATED when the token is missing or unknown, PERMISSION_DENIED when it lacks the
  // scope (never echoing the token).
  [[nodiscard]] absl::Status Check(const grpc::ServerContextBase& context, Scope scope) const;
  // The same for an `authorization` value from elsewhere (an HTTP header); nullopt: absent.
  [[nodiscard]] absl::Status CheckHeader(std::optional<std::string_view> header, Scope scope) const;
  // The token's scopes as a bit set of Scope values; 0 for a token not accepted.
  unsigned ScopesOf(std::string_view token) const;
  bool Accepts(std::string_view token) const { return ScopesOf(token) != 0; }
  // The caller an accepted bearer token speaks for (see above); empty when the call shows no
  // accepted token.
  std::string CallerOf(const grpc::ServerContextBase& context) const;
  std::string CallerOfHeader(std::optional<std::string_view> header) const;

 private:
  struct Entry {
    std::string token;
    unsigned scopes = 0;
    std::string caller;
  };
  // The token of a `Bearer <token>` header (the scheme in any case); nullopt: not one.
  static std::optional<std::string_view> BearerToken(std::optional<std::string_view> header);
  explicit TokenAuthenticator(std::string path) : path_(std::move(path)) {}

  const std::string path_;
  mutable common::Mutex mu_;
  std::shared_ptr<const std::vector<Entry>> tokens_ ABSL_GUARDED_BY(mu_);
};

// Equality whose time depends only on the lengths, not on where the first difference is.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace booking::api
