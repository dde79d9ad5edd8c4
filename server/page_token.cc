#include "server/page_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/uuid.h"

namespace booking::server {
namespace {
constexpr absl::string_view kPrefix = "after:";
}  // namespace

std::string EncodePageToken(std::string_view last_ticket_id) {
  return absl::WebSafeBase64Escape(absl::StrCat(kPrefix, std::string(last_ticket_id)));
}

absl::StatusOr<std::string> DecodePageToken(std::string_view token) {
  std::string plain;
  if (!absl::WebSafeBase64Unescape(absl::string_view(token.data(), token.size()), &plain) ||
      !absl::StartsWith(plain, kPrefix) ||
      !common::IsUuid(std::string_view(plain).substr(kPrefix.size()))) {
    return absl::InvalidArgumentError(
        "page_token: is not a token returned as next_page_token by ListTickets");
  }
  return plain.substr(kPrefix.size());
}

}  // namespace booking::server
