#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace booking::server {

// ListTickets pages by key: the token is an opaque, URL-safe encoding of the last ticket id of
// the previous page, so pages stay stable while tickets are added.
std::string EncodePageToken(std::string_view last_ticket_id);

// The ticket id a token encodes; INVALID_ARGUMENT naming `page_token` when it is not ours.
absl::StatusOr<std::string> DecodePageToken(std::string_view token);

}  // namespace booking::server
