#include "domain/event_factory.h"

#include <cassert>

#include "absl/strings/str_cat.h"
#include "common/uuid.h"
#include "tickets/v1/events.pb.h"

namespace booking::domain {
namespace {

template <typename Message>
domain::Event MakeEvent(const tickets::v1::TicketStatusChange& ticket,
                        const tickets::v1::EventHeader& header_template, std::string ticket_id) {
  Message message;
  tickets::v1::EventHeader* header = message.mutable_header();
  *header = header_template;
  header->set_id(common::NewUuid());
  header->set_idempotency_key(absl::StrCat(header_template.idempotency_key(), "/", ticket_id));
  message.set_ticket_id(ticket_id);
  message.set_customer_email(ticket.customer_email());
  *message.mutable_price() = ticket.price();
  message.set_booking_id(common::NormalizeUuid(ticket.booking_id()));

  domain::Event event;
  event.id = header->id();
  event.type = Message::descriptor()->full_name();
  event.ticket_id = std::move(ticket_id);
  event.idempotency_key = header->idempotency_key();
  event.correlation_id = header->correlation_id();
  // Cannot fail: proto3 messages have no required fields to miss.
  const bool serialized = message.SerializeToString(&event.payload);
  assert(serialized);
  (void)serialized;
  return event;
}

}  // namespace

std::vector<domain::Event> BuildEvents(const tickets::v1::UpdateTicketsStatusRequest& request,
                                       std::string_view idempotency_key,
                                       std::string_view correlation_id, absl::Time published_at) {
  tickets::v1::EventHeader header;
  header.set_idempotency_key(std::string(idempotency_key));
  header.set_correlation_id(std::string(correlation_id));
  const absl::Duration since_epoch = published_at - absl::UnixEpoch();
  const int64_t seconds = absl::ToInt64Seconds(since_epoch);
  header.mutable_published_at()->set_seconds(seconds);
  header.mutable_published_at()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(since_epoch - absl::Seconds(seconds))));

  std::vector<domain::Event> events;
  events.reserve(request.tickets_size());
  for (const auto& ticket : request.tickets()) {
    std::string ticket_id = common::NormalizeUuid(ticket.ticket_id());
    if (ticket.status() == "canceled") {
      events.push_back(MakeEvent<tickets::v1::TicketBookingCanceled>(ticket, header, ticket_id));
    } else {
      events.push_back(MakeEvent<tickets::v1::TicketBookingConfirmed>(ticket, header, ticket_id));
    }
  }
  return events;
}

}  // namespace booking::domain
