#include "api/token_authenticator.h"

#include <openssl/evp.h>

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/call_metadata.h"
#include "spdlog/spdlog.h"

namespace booking::api {

namespace {

constexpr Scope kAllScopes[] = {Scope::kWrite, Scope::kRead, Scope::kAdmin, Scope::kMetrics};
constexpr unsigned kEveryScope = 15;
constexpr std::string_view kCallerField = "caller=";
constexpr size_t kMaxCallerName = 64;

// A token's own caller name: stable across restarts and versions (idempotency keys are stored
// under it), and it does not give the token away.
std::string TokenCallerName(std::string_view token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(token.data(), token.size(), digest, &size, EVP_sha256(), nullptr);
  return absl::StrCat(
      "token-", absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), 8)));
}

bool IsCallerName(std::string_view name) {
  if (name.empty() || name.size() > kMaxCallerName) return false;
  for (const char c : name) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

}  // namespace

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kWrite:
      return "write";
    case Scope::kRead:
      return "read";
    case Scope::kAdmin:
      return "admin";
    case Scope::kMetrics:
      return "metrics";
  }
  return "unknown";
}

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
  auto tokens = std::make_shared<std::vector<Entry>>();
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    const std::string trimmed(absl::StripAsciiWhitespace(line));
    if (trimmed.empty() || trimmed[0] == '#') continue;
    std::vector<std::string> fields =
        absl::StrSplit(trimmed, absl::ByAnyChar(" \t,"), absl::SkipEmpty());
    Entry entry{.token = fields[0], .scopes = 0, .caller = ""};
    for (size_t i = 1; i < fields.size(); ++i) {
      if (fields[i].starts_with(kCallerField)) {
        entry.caller = fields[i].substr(kCallerField.size());
        if (!IsCallerName(entry.caller)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "auth_tokens_file: ", path_, " line ", line_number, ": caller= takes a name of 1 to ",
              kMaxCallerName, " letters, digits, '-', '_' or '.'"));
        }
        continue;
      }
      unsigned bit = 0;
      for (Scope scope : kAllScopes) {
        if (fields[i] == ScopeName(scope)) bit = static_cast<unsigned>(scope);
      }
      if (bit == 0) {
        return absl::InvalidArgumentError(absl::StrCat("auth_tokens_file: ", path_, " line ",
                                                       line_number, ": unknown scope \"", fields[i],
                                                       "\" (write, read, admin, metrics)"));
      }
      entry.scopes |= bit;
    }
    if (entry.scopes == 0) {
      spdlog::warn(
          "auth_tokens_file: the token on line {} has no scopes and may do everything; "
          "give it some (write, read, admin, metrics) file={}",
          line_number, path_);
      entry.scopes = kEveryScope;
    }
    if (entry.caller.empty()) entry.caller = TokenCallerName(entry.token);
    tokens->push_back(std::move(entry));
  }
  if (tokens->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("auth_tokens_file: no token in ", path_));
  }
  const size_t count = tokens->size();
  common::MutexLock lock(mu_);
  tokens_ = std::move(tokens);
  return count;
}

unsigned TokenAuthenticator::ScopesOf(std::string_view token) const {
  std::shared_ptr<const std::vector<Entry>> tokens;
  {
    common::MutexLock lock(mu_);
    tokens = tokens_;
  }
  unsigned scopes = 0;
  // No early exit: the time does not tell which token matched, or how many were tried.
  for (const Entry& candidate : *tokens) {
    const unsigned match = ConstantTimeEquals(token, candidate.token) ? ~0u : 0u;
    scopes |= candidate.scopes & match;
  }
  return scopes;
}

std::optional<std::string_view> TokenAuthenticator::BearerToken(
    std::optional<std::string_view> header) {
  constexpr std::string_view kScheme = "Bearer ";
  if (!header.has_value() || header->size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(std::string(header->substr(0, kScheme.size())),
                              std::string(kScheme))) {
    return std::nullopt;
  }
  return header->substr(kScheme.size());
}

std::string TokenAuthenticator::CallerOf(const grpc::ServerContextBase& context) const {
  return CallerOfHeader(FindMetadata(context, "authorization"));
}

std::string TokenAuthenticator::CallerOfHeader(std::optional<std::string_view> header) const {
  const std::optional<std::string_view> token = BearerToken(header);
  if (!token.has_value()) return "";
  std::shared_ptr<const std::vector<Entry>> tokens;
  {
    common::MutexLock lock(mu_);
    tokens = tokens_;
  }
  const Entry* found = nullptr;
  for (const Entry& candidate : *tokens) {  // no early exit, as in ScopesOf
    if (ConstantTimeEquals(*token, candidate.token)) found = &candidate;
  }
  return found == nullptr ? "" : found->caller;
}

absl::Status TokenAuthenticator::Check(const grpc::ServerContextBase& context, Scope scope) const {
  return CheckHeader(FindMetadata(context, "authorization"), scope);
}

absl::Status TokenAuthenticator::CheckHeader(std::optional<std::string_view> header,
                                             Scope scope) const {
  if (!header.has_value()) {
    return absl::UnauthenticatedError("authorization: missing; send \"Bearer <token>\"");
  }
  const std::optional<std::string_view> token = BearerToken(header);
  if (!token.has_value()) return absl::UnauthenticatedError("authorization: not a bearer token");
  const unsigned scopes = ScopesOf(*token);
  if (scopes == 0) return absl::UnauthenticatedError("authorization: token not accepted");
  if ((scopes & static_cast<unsigned>(scope)) == 0) {
    return absl::PermissionDeniedError(absl::StrCat("authorization: the token lacks the \"",
                                                    std::string(ScopeName(scope)), "\" scope"));
  }
  return absl::OkStatus();
}

}  // namespace booking::api
