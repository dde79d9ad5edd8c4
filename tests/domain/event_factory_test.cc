#include "domain/event_factory.h"

#include "common/uuid.h"
#include "gtest/gtest.h"
#include "tickets/v1/events.pb.h"

namespace booking::domain {
namespace {

TEST(EventFactoryTest, OneEventPerTicketWithHeader) {
  tickets::v1::UpdateTicketsStatusRequest request;
  auto* confirmed = request.add_tickets();
  confirmed->set_ticket_id("5A1F3C9E-0B7D-4E2A-9C11-000000000001");
  confirmed->set_status("confirmed");
  confirmed->set_customer_email("ann@example.com");
  confirmed->mutable_price()->set_amount("49.90");
  confirmed->mutable_price()->set_currency("EUR");
  confirmed->set_booking_id("0B7D4E2A-5A1F-3C9E-9C11-000000000009");
  auto* canceled = request.add_tickets();
  *canceled = *confirmed;
  canceled->set_ticket_id("5a1f3c9e-0b7d-4e2a-9c11-000000000002");
  canceled->set_status("canceled");

  const absl::Time now = absl::FromUnixMillis(1'700'000'000'123);
  std::vector<domain::Event> events = BuildEvents(request, "key-1", "corr-1", now);
  ASSERT_EQ(events.size(), 2u);

  const domain::Event& first = events[0];
  EXPECT_EQ(first.type, "tickets.v1.TicketBookingConfirmed");
  EXPECT_EQ(first.ticket_id, "5a1f3c9e-0b7d-4e2a-9c11-000000000001");
  EXPECT_EQ(first.idempotency_key, "key-1/5a1f3c9e-0b7d-4e2a-9c11-000000000001");
  EXPECT_EQ(first.correlation_id, "corr-1");
  EXPECT_TRUE(common::IsUuid(first.id));
  EXPECT_EQ(first.sequence, 0);
  tickets::v1::TicketBookingConfirmed payload;
  ASSERT_TRUE(payload.ParseFromString(first.payload));
  EXPECT_EQ(payload.header().id(), first.id);
  EXPECT_EQ(payload.header().idempotency_key(), first.idempotency_key);
  EXPECT_EQ(payload.header().correlation_id(), "corr-1");
  EXPECT_EQ(payload.header().published_at().seconds(), 1'700'000'000);
  EXPECT_EQ(payload.header().published_at().nanos(), 123'000'000);
  EXPECT_EQ(payload.ticket_id(), first.ticket_id);
  EXPECT_EQ(payload.customer_email(), "ann@example.com");
  EXPECT_EQ(payload.price().amount(), "49.90");
  EXPECT_EQ(payload.price().currency(), "EUR");
  EXPECT_EQ(payload.booking_id(), "0b7d4e2a-5a1f-3c9e-9c11-000000000009");

  const domain::Event& second = events[1];
  EXPECT_EQ(second.type, "tickets.v1.TicketBookingCanceled");
  EXPECT_NE(second.id, first.id);
  tickets::v1::TicketBookingCanceled canceled_payload;
  ASSERT_TRUE(canceled_payload.ParseFromString(second.payload));
  EXPECT_EQ(canceled_payload.ticket_id(), "5a1f3c9e-0b7d-4e2a-9c11-000000000002");
}

}  // namespace
}  // namespace booking::domain
