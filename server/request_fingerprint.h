#pragma once

#include <string>

#include "tickets/v1/booking.pb.h"

namespace booking::server {

inline constexpr unsigned int kFingerprintBytes = 16;

// SHA-256, its first kFingerprintBytes, of the canonical form of an UpdateTicketsStatus request:
// every ticket's fields in order, ticket and booking ids normalized, the idempotency key itself
// left out (it names the request). Two calls are "the same request" when their fingerprints are
// equal.
std::string RequestFingerprint(const tickets::v1::UpdateTicketsStatusRequest& request);

}  // namespace booking::server
