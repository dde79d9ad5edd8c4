#pragma once

#include "domain/handler.h"
#include "storage/ticket_repository.h"

namespace booking::handlers {

// Writes the rows that ticket events lead to: one batched upsert per batch, applied only where
// the row does not already come from a newer event, so redelivery and reordering are harmless.
absl::Status UpsertTicketsFromEvents(storage::TicketRepository& repository,
                                     absl::Span<const domain::Event* const> events);

// Stores the ticket of each event with the event's status (confirmed or canceled; a canceled
// ticket is kept, marked, so a late confirmation cannot bring it back). Registered once per event
// type, under the name stored for it (handlers/handler_table.cc).
class StoreTickets final : public domain::Handler {
 public:
  StoreTickets(std::string_view name, storage::TicketRepository& repository)
      : name_(name), repository_(repository) {}

  std::string_view name() const override { return name_; }
  absl::Status Handle(absl::Span<const domain::Event* const> events) override {
    return UpsertTicketsFromEvents(repository_, events);
  }

 private:
  const std::string_view name_;
  storage::TicketRepository& repository_;
};

}  // namespace booking::handlers
