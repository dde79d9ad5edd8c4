#pragma once

#include <grpcpp/server_context.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace booking::server {

// Bearer tokens accepted on the protected RPCs, read from a file (one token per line; blank
// lines and lines starting with '#' ignored) and re-read by Reload (the server calls it on
// SIGHUP), so a token can be added or revoked without a restart. Tokens are compared in constant
// time and never logged. Thread-safe.
class TokenAuthenticator {
 public:
  // INVALID_ARGUMENT naming the file when it cannot be read or holds no token.
  static absl::StatusOr<std::unique_ptr<TokenAuthenticator>> FromFile(std::string path);

  // Re-reads the file; on failure keeps the tokens it had. Returns how many are accepted now.
  absl::StatusOr<size_t> Reload();

  // OK when the call's `authorization` metadata is `Bearer <accepted token>`, else
  // UNAUTHENTICATED saying what is wrong (without echoing the token).
  absl::Status Check(const grpc::ServerContextBase& context) const;
  // The same for an `authorization` value from elsewhere (an HTTP header); nullopt: absent.
  absl::Status CheckHeader(std::optional<std::string_view> header) const;
  bool Accepts(std::string_view token) const;

 private:
  explicit TokenAuthenticator(std::string path) : path_(std::move(path)) {}

  const std::string path_;
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<std::string>> tokens_ ABSL_GUARDED_BY(mu_);
};

// Equality whose time depends only on the lengths, not on where the first difference is.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace booking::server
