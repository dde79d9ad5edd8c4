#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "api/error_details.h"
#include "tickets/v1/booking.pb.h"

namespace booking::server {

struct ValidationLimits {
  int max_tickets_per_call = 1000;
};

// Checks every rule of DESIGN.md ("Validation") on every ticket and returns all violations, in
// field order; empty means valid.
std::vector<api::FieldViolation> FindViolations(
    const tickets::v1::UpdateTicketsStatusRequest& request, const ValidationLimits& limits);

// OK, or INVALID_ARGUMENT whose message lists the violations, each starting with its field path,
// and whose google.rpc.BadRequest detail holds every one of them.
absl::Status ValidateRequest(const tickets::v1::UpdateTicketsStatusRequest& request,
                             const ValidationLimits& limits);

// Single-value rules, shared with other entry points.
bool IsValidEmail(std::string_view email);
bool IsValidAmount(std::string_view amount);      // fits NUMERIC(10,2) exactly
bool IsValidCurrency(std::string_view currency);  // three upper-case letters

}  // namespace booking::server
