#include "server/cancellation_check.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/error_details.h"

namespace booking::server {
namespace {

constexpr char kConfirmedType[] = "tickets.v1.TicketBookingConfirmed";
constexpr char kCanceledType[] = "tickets.v1.TicketBookingCanceled";

}  // namespace

std::vector<CancellationToCheck> CancellationsToCheck(absl::Span<const domain::Event> events) {
  std::vector<CancellationToCheck> out;
  std::set<std::string_view> confirmed;
  for (size_t i = 0; i < events.size(); ++i) {
    const domain::Event& event = events[i];
    if (event.type == kConfirmedType) {
      confirmed.insert(event.ticket_id);
    } else if (event.type == kCanceledType && confirmed.count(event.ticket_id) == 0) {
      out.push_back({static_cast<int>(i), event.ticket_id});
    }
  }
  return out;
}

std::vector<CancellationToCheck> Unconfirmed(std::vector<CancellationToCheck> checked,
                                             absl::Span<const std::string> confirmed) {
  const std::set<std::string_view> known(confirmed.begin(), confirmed.end());
  std::erase_if(checked, [&](const CancellationToCheck& c) { return known.count(c.ticket_id); });
  return checked;
}

absl::Status NeverConfirmed(absl::Span<const CancellationToCheck> unconfirmed) {
  std::vector<std::string> parts;
  std::vector<std::pair<std::string, std::string>> violations;
  for (const CancellationToCheck& c : unconfirmed) {
    const std::string subject = absl::StrCat("tickets[", c.index, "]");
    const std::string description =
        absl::StrCat(subject, ": ticket ", c.ticket_id,
                     " was never confirmed, so there is nothing to cancel or refund");
    parts.push_back(description);
    violations.emplace_back(subject, description);
  }
  absl::Status status = absl::FailedPreconditionError(
      absl::StrCat(absl::StrJoin(parts, "; "), "; nothing was published"));
  return api::WithPreconditionViolations(std::move(status), api::kTicketNotConfirmedType,
                                         violations);
}

}  // namespace booking::server
