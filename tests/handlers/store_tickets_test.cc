#include "handlers/store_tickets.h"

#include "domain/event_types.h"
#include "gtest/gtest.h"
#include "tests/fakes/memory_ticket_repository.h"
#include "tests/support/events.h"

namespace booking::handlers {
namespace {

using testing::TicketEvent;

constexpr char kId[] = "5a1f3c9e-0b7d-4e2a-9c11-000000000001";

TEST(StoreTicketsTest, StoresConfirmedTicket) {
  testing::MemoryTicketRepository repository;
  StoreTickets handler("StoreTickets", repository);
  domain::Event event = TicketEvent(kId, "confirmed", 7);
  const domain::Event* batch[] = {&event};
  ASSERT_TRUE(handler.Handle(batch).ok());
  absl::StatusOr<domain::Ticket> row = repository.Get(kId);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->status, "confirmed");
  EXPECT_EQ(row->price_amount, "49.90");
  EXPECT_EQ(row->price_currency, "EUR");
  EXPECT_EQ(row->customer_email, "ann@example.com");
  EXPECT_EQ(row->last_event_sequence, 7);
}

TEST(StoreTicketsTest, OlderEventDoesNotUndoNewer) {
  testing::MemoryTicketRepository repository;
  StoreTickets store("StoreTickets", repository);
  StoreTickets remove("RemoveCanceledTicket", repository);
  domain::Event confirmed = TicketEvent(kId, "confirmed", 1);
  domain::Event canceled = TicketEvent(kId, "canceled", 2);
  const domain::Event* cancel_batch[] = {&canceled};
  const domain::Event* confirm_batch[] = {&confirmed};
  ASSERT_TRUE(remove.Handle(cancel_batch).ok());
  ASSERT_TRUE(store.Handle(confirm_batch).ok());  // arrives late
  EXPECT_EQ(repository.Get(kId)->status, "canceled");
}

TEST(StoreTicketsTest, RepositoryErrorComesBack) {
  testing::MemoryTicketRepository repository;
  repository.FailWith(absl::UnavailableError("down"));
  StoreTickets handler("StoreTickets", repository);
  domain::Event event = TicketEvent(kId, "confirmed", 1);
  const domain::Event* batch[] = {&event};
  EXPECT_TRUE(absl::IsUnavailable(handler.Handle(batch)));
}

TEST(StoreTicketsTest, CorruptPayloadIsNotRetryable) {
  testing::MemoryTicketRepository repository;
  StoreTickets handler("StoreTickets", repository);
  domain::Event event = TicketEvent(kId, "confirmed", 1);
  event.payload = "\xff\xff\xff";
  const domain::Event* batch[] = {&event};
  EXPECT_TRUE(absl::IsInvalidArgument(handler.Handle(batch)));
  EXPECT_EQ(repository.size(), 0u);
}

}  // namespace
}  // namespace booking::handlers
