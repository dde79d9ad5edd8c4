#pragma once

#include "domain/handler.h"
#include "storage/ticket_repository.h"

namespace booking::workers {

// Writes the rows that ticket events lead to: one batched upsert per batch, applied only where
// the row does not already come from a newer event, so redelivery and reordering are harmless.
absl::Status UpsertTicketsFromEvents(storage::TicketRepository& repository,
                                     absl::Span<const Event* const> events);

// On TicketBookingConfirmed: stores the ticket as confirmed.
class StoreTickets final : public Handler {
 public:
  explicit StoreTickets(storage::TicketRepository& repository) : repository_(repository) {}

  std::string_view name() const override { return "StoreTickets"; }
  absl::Status Handle(absl::Span<const Event* const> events) override {
    return UpsertTicketsFromEvents(repository_, events);
  }

 private:
  storage::TicketRepository& repository_;
};

}  // namespace booking::workers
