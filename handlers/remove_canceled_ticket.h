#pragma once

#include "domain/handler.h"
#include "handlers/store_tickets.h"
#include "storage/ticket_repository.h"

namespace booking::workers {

// On TicketBookingCanceled: marks the ticket canceled (storing it if it was never confirmed, so
// a late confirmation cannot bring it back), which takes it out of ListTickets.
class RemoveCanceledTicket final : public Handler {
 public:
  explicit RemoveCanceledTicket(storage::TicketRepository& repository) : repository_(repository) {}

  std::string_view name() const override { return "RemoveCanceledTicket"; }
  absl::Status Handle(absl::Span<const Event* const> events) override {
    return UpsertTicketsFromEvents(repository_, events);
  }

 private:
  storage::TicketRepository& repository_;
};

}  // namespace booking::workers
