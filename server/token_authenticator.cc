#include "server/token_authenticator.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/call_metadata.h"

namespace booking::server {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Every byte of `a` is looked at whatever `b` is; a length mismatch only decides the result.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (b.empty() ? 0 : b[i % b.size()]));
  }
  return diff == 0;
}

absl::StatusOr<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::FromFile(std::string path) {
  std::unique_ptr<TokenAuthenticator> auth(new TokenAuthenticator(std::move(path)));
  absl::StatusOr<size_t> loaded = auth->Reload();
  if (!loaded.ok()) return loaded.status();
  return auth;
}

absl::StatusOr<size_t> TokenAuthenticator::Reload() {
  std::ifstream in(path_);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("auth_tokens_file: cannot read ", path_));
  auto tokens = std::make_shared<std::vector<std::string>>();
  for (std::string line; std::getline(in, line);) {
    std::string token(absl::StripAsciiWhitespace(line));
    if (token.empty() || token[0] == '#') continue;
    tokens->push_back(std::move(token));
  }
  if (tokens->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("auth_tokens_file: no token in ", path_));
  }
  const size_t count = tokens->size();
  std::lock_guard lock(mu_);
  tokens_ = std::move(tokens);
  return count;
}

bool TokenAuthenticator::Accepts(std::string_view token) const {
  std::shared_ptr<const std::vector<std::string>> tokens;
  {
    std::lock_guard lock(mu_);
    tokens = tokens_;
  }
  bool accepted = false;
  // No early exit: the time does not tell which token matched, or how many were tried.
  for (const std::string& candidate : *tokens) accepted |= ConstantTimeEquals(token, candidate);
  return accepted;
}

absl::Status TokenAuthenticator::Check(const grpc::ServerContextBase& context) const {
  return CheckHeader(FindMetadata(context, "authorization"));
}

absl::Status TokenAuthenticator::CheckHeader(std::optional<std::string_view> header) const {
  if (!header.has_value()) {
    return absl::UnauthenticatedError("authorization: missing; send \"Bearer <token>\"");
  }
  constexpr std::string_view kScheme = "Bearer ";
  if (header->size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(std::string(header->substr(0, kScheme.size())),
                              std::string(kScheme))) {
    return absl::UnauthenticatedError("authorization: not a bearer token");
  }
  if (!Accepts(header->substr(kScheme.size()))) {
    return absl::UnauthenticatedError("authorization: token not accepted");
  }
  return absl::OkStatus();
}

}  // namespace booking::server
