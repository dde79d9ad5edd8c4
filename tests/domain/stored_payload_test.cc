// The durable log stores ticket events without what its columns hold, and gives back payloads
// equal, as messages, to the ones it was given: for both event types, for payloads stored whole
// by an older version, and for bytes that are no ticket event at all.
#include "domain/stored_payload.h"

#include "domain/event_factory.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tickets/v1/events.pb.h"

namespace booking::domain {
namespace {

using google::protobuf::util::MessageDifferencer;

std::vector<Event> SomeEvents() {
  tickets::v1::UpdateTicketsStatusRequest request;
  auto* confirmed = request.add_tickets();
  confirmed->set_ticket_id("5a1f3c9e-0b7d-4e2a-9c11-000000000001");
  confirmed->set_status("confirmed");
  confirmed->set_customer_email("ann@example.com");
  confirmed->mutable_price()->set_amount("49.90");
  confirmed->mutable_price()->set_currency("EUR");
  confirmed->set_booking_id("0b7d4e2a-5a1f-3c9e-9c11-000000000009");
  auto* canceled = request.add_tickets();
  *canceled = *confirmed;
  canceled->set_ticket_id("5a1f3c9e-0b7d-4e2a-9c11-000000000002");
  canceled->set_status("canceled");
  return domain::BuildEvents(request, "loadgen-1234abcd-17", "9b7c1e2a-1111-4222-8333-444455556666",
                             absl::FromUnixMillis(1'700'000'000'123));
}

EventColumns Columns(const Event& event) {
  return {event.id, event.idempotency_key, event.correlation_id, event.ticket_id};
}

template <typename Message>
void ExpectSameMessage(const std::string& expected, const std::string& actual) {
  Message a, b;
  ASSERT_TRUE(a.ParseFromString(expected));
  ASSERT_TRUE(b.ParseFromString(actual));
  EXPECT_TRUE(MessageDifferencer::Equals(a, b)) << a.DebugString() << "\nvs\n" << b.DebugString();
}

TEST(StoredPayloadTest, StoresLessAndGivesBackTheSameEvent) {
  const std::vector<Event> events = SomeEvents();
  ASSERT_EQ(events.size(), 2u);
  for (const Event& event : events) {
    const std::string stored = StoredPayload(event.type, event.payload);
    std::printf("[ figures  ] %s: payload %zu bytes, stored %zu\n", event.type.c_str(),
                event.payload.size(), stored.size());
    EXPECT_LE(stored.size() + 150, event.payload.size()) << "the columns' fields are not stored";
    EXPECT_EQ(stored.find(event.id), std::string::npos);
    EXPECT_EQ(stored.find(event.correlation_id), std::string::npos);
    EXPECT_EQ(stored.find(event.ticket_id), std::string::npos);
    const std::string full = FullPayload(event.type, stored, Columns(event));
    if (event.type == tickets::v1::TicketBookingConfirmed::descriptor()->full_name()) {
      ExpectSameMessage<tickets::v1::TicketBookingConfirmed>(event.payload, full);
    } else {
      ExpectSameMessage<tickets::v1::TicketBookingCanceled>(event.payload, full);
    }
  }
}

TEST(StoredPayloadTest, APayloadStoredWholeReadsTheSame) {
  const Event event = SomeEvents()[0];
  ExpectSameMessage<tickets::v1::TicketBookingConfirmed>(
      event.payload, FullPayload(event.type, event.payload, Columns(event)));
}

TEST(StoredPayloadTest, OtherTypesAndMalformedBytesAreStoredAsTheyAre) {
  const Event event = SomeEvents()[0];
  EXPECT_EQ(StoredPayload("Confirmed", "\x00\xff payload"), std::string("\x00\xff payload"));
  EXPECT_EQ(FullPayload("Confirmed", "x", Columns(event)), "x");
  const std::string malformed = "\x0a\x7f truncated";  // a header longer than the bytes
  EXPECT_EQ(StoredPayload(event.type, malformed), malformed);
}

}  // namespace
}  // namespace booking::domain
