#include "server/request_validator.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/uuid.h"

namespace booking::server {
namespace {

constexpr size_t kMaxEmailBytes = 255;
constexpr int kMaxIntegerDigits = 8;  // NUMERIC(10,2)
constexpr int kMaxFractionDigits = 2;
constexpr size_t kMaxEchoedBytes = 64;  // of a bad value quoted back in an error

// Quotes a bad value for an error message, cut short and with control bytes escaped.
std::string Quote(std::string_view value) {
  std::string shown =
      absl::CHexEscape(absl::string_view(value.data(), std::min(value.size(), kMaxEchoedBytes)));
  return absl::StrCat("\"", shown, value.size() > kMaxEchoedBytes ? "...\"" : "\"");
}

void CheckTicket(const tickets::v1::TicketStatusChange& ticket, const std::string& path,
                 std::vector<api::FieldViolation>& out) {
  if (ticket.ticket_id().empty()) {
    out.push_back({path + ".ticket_id", "is required"});
  } else if (!common::IsUuid(ticket.ticket_id())) {
    out.push_back({path + ".ticket_id", "must be a UUID, got " + Quote(ticket.ticket_id())});
  }
  if (ticket.status() != "confirmed" && ticket.status() != "canceled") {
    out.push_back(
        {path + ".status", "must be \"confirmed\" or \"canceled\", got " + Quote(ticket.status())});
  }
  if (ticket.customer_email().empty()) {
    out.push_back({path + ".customer_email", "is required"});
  } else if (ticket.customer_email().size() > kMaxEmailBytes) {
    out.push_back(
        {path + ".customer_email", absl::StrCat("must be at most ", kMaxEmailBytes, " bytes, got ",
                                                ticket.customer_email().size())});
  } else if (!IsValidEmail(ticket.customer_email())) {
    out.push_back({path + ".customer_email", "must be an address like name@example.com, got " +
                                                 Quote(ticket.customer_email())});
  }
  if (!ticket.has_price()) {
    out.push_back({path + ".price", "is required"});
  } else {
    const std::string& amount = ticket.price().amount();
    if (amount.empty()) {
      out.push_back({path + ".price.amount", "is required"});
    } else if (!IsValidAmount(amount)) {
      out.push_back({path + ".price.amount",
                     "must be a non-negative decimal with at most 8 integer digits and 2 "
                     "decimals, like \"49.90\", got " +
                         Quote(amount)});
    }
    const std::string& currency = ticket.price().currency();
    if (currency.empty()) {
      out.push_back({path + ".price.currency", "is required"});
    } else if (!IsValidCurrency(currency)) {
      out.push_back({path + ".price.currency",
                     "must be three upper-case letters (ISO 4217), got " + Quote(currency)});
    }
  }
  if (!ticket.booking_id().empty() && !common::IsUuid(ticket.booking_id())) {
    out.push_back(
        {path + ".booking_id", "must be a UUID when set, got " + Quote(ticket.booking_id())});
  }
}

}  // namespace

bool IsValidEmail(std::string_view email) {
  const size_t at = email.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == email.size()) return false;
  if (email.find('@', at + 1) != std::string_view::npos) return false;
  for (char c : email) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;  // no spaces or control characters
  }
  return true;
}

bool IsValidAmount(std::string_view amount) {
  const size_t dot = amount.find('.');
  const std::string_view integer = amount.substr(0, dot);
  if (integer.empty() || integer.size() > kMaxIntegerDigits) return false;
  for (char c : integer) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  if (dot == std::string_view::npos) return true;
  const std::string_view fraction = amount.substr(dot + 1);
  if (fraction.empty() || fraction.size() > kMaxFractionDigits) return false;
  for (char c : fraction) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsValidCurrency(std::string_view currency) {
  if (currency.size() != 3) return false;
  for (char c : currency) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

std::vector<api::FieldViolation> FindViolations(
    const tickets::v1::UpdateTicketsStatusRequest& request, const ValidationLimits& limits) {
  std::vector<api::FieldViolation> out;
  if (!tickets::v1::UpdateTicketsStatusRequest::Consistency_IsValid(request.consistency())) {
    out.push_back({"consistency", absl::StrCat("must be ACCEPTED, STORED or COMPLETED, got ",
                                               static_cast<int>(request.consistency()))});
  }
  if (request.tickets_size() == 0) {
    out.push_back({"tickets", "must hold at least one ticket"});
    return out;
  }
  if (request.tickets_size() > limits.max_tickets_per_call) {
    out.push_back({"tickets", absl::StrCat("must hold at most ", limits.max_tickets_per_call,
                                           " tickets per call, got ", request.tickets_size())});
    return out;
  }
  absl::flat_hash_map<std::string, int> first_index;
  first_index.reserve(request.tickets_size());
  for (int i = 0; i < request.tickets_size(); ++i) {
    const auto& ticket = request.tickets(i);
    const std::string path = absl::StrCat("tickets[", i, "]");
    CheckTicket(ticket, path, out);
    if (!common::IsUuid(ticket.ticket_id())) continue;
    auto [it, inserted] = first_index.try_emplace(common::NormalizeUuid(ticket.ticket_id()), i);
    if (!inserted) {
      out.push_back(
          {path + ".ticket_id", absl::StrCat("repeats tickets[", it->second,
                                             "].ticket_id; a ticket may appear once per call")});
    }
  }
  return out;
}

absl::Status ValidateRequest(const tickets::v1::UpdateTicketsStatusRequest& request,
                             const ValidationLimits& limits) {
  std::vector<api::FieldViolation> violations = FindViolations(request, limits);
  if (violations.empty()) return absl::OkStatus();
  constexpr size_t kMaxListed = 10;
  std::vector<std::string> parts;
  for (size_t i = 0; i < violations.size() && i < kMaxListed; ++i) {
    parts.push_back(absl::StrCat(violations[i].field, ": ", violations[i].description));
  }
  std::string message = absl::StrJoin(parts, "; ");
  if (violations.size() > kMaxListed) {
    absl::StrAppend(&message, "; and ", violations.size() - kMaxListed, " more");
  }
  return api::WithFieldViolations(absl::InvalidArgumentError(message), violations);
}

}  // namespace booking::server
