#include "server/request_fingerprint.h"

#include <openssl/evp.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/uuid.h"

namespace booking::server {

std::string RequestFingerprint(const tickets::v1::UpdateTicketsStatusRequest& request) {
  // Length-prefixed fields: no separator inside a value can make two requests look alike.
  std::string canonical;
  auto add = [&canonical](const std::string& value) {
    absl::StrAppend(&canonical, value.size(), ":", value);
  };
  for (const tickets::v1::TicketStatusChange& ticket : request.tickets()) {
    add(common::NormalizeUuid(ticket.ticket_id()));
    add(ticket.status());
    add(ticket.customer_email());
    add(ticket.price().amount());
    add(ticket.price().currency());
    add(ticket.booking_id().empty() ? "" : common::NormalizeUuid(ticket.booking_id()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(canonical.data(), canonical.size(), digest, &size, EVP_sha256(), nullptr);
  // The first 128 bits: two different requests under one key never meet such a collision, and
  // the key's row is 16 bytes smaller (stored for every call).
  return std::string(reinterpret_cast<const char*>(digest), std::min(size, kFingerprintBytes));
}

}  // namespace booking::server
