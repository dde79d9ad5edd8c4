#include "domain/ticket_event.h"

#include "absl/strings/str_cat.h"
#include "tickets/v1/events.pb.h"

namespace booking::domain {
namespace {

template <typename Message>
absl::StatusOr<Ticket> Parse(const Event& event, std::string_view status) {
  Message message;
  if (!message.ParseFromString(event.payload)) {
    return absl::InvalidArgumentError(
        absl::StrCat("event ", event.id, ": payload is not a valid ", event.type));
  }
  Ticket record;
  record.ticket_id = message.ticket_id();
  record.customer_email = message.customer_email();
  record.price_amount = message.price().amount();
  record.price_currency = message.price().currency();
  record.status = std::string(status);
  record.booking_id = message.booking_id();
  record.last_event_sequence = event.sequence;
  return record;
}

}  // namespace

absl::StatusOr<Ticket> ParseTicketEvent(const Event& event) {
  if (event.type == tickets::v1::TicketBookingConfirmed::descriptor()->full_name()) {
    return Parse<tickets::v1::TicketBookingConfirmed>(event, "confirmed");
  }
  if (event.type == tickets::v1::TicketBookingCanceled::descriptor()->full_name()) {
    return Parse<tickets::v1::TicketBookingCanceled>(event, "canceled");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("event ", event.id, ": not a ticket event but ", event.type));
}

}  // namespace booking::domain
