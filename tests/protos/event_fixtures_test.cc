// Events stored by earlier code (tests/protos/fixtures, see its README) must still decode with
// today's generated code, directly and the way the handler lanes read them from the log.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "delivery/event_conversion.h"
#include "domain/ticket_event.h"
#include "gtest/gtest.h"
#include "storage/event_store.h"
#include "tickets/v1/events.pb.h"

namespace booking::protos {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(BOOKING_SOURCE_DIR) / "tests" / "protos" / "fixtures";

// The values tools/event_baseline/fixtures.cc recorded.
constexpr char kConfirmedTicket[] = "11111111-1111-4111-8111-111111111111";
constexpr char kCanceledTicket[] = "22222222-2222-4222-8222-222222222222";
constexpr char kConfirmedEventId[] = "eeeeeeee-eeee-4eee-8eee-000000000001";
constexpr char kCanceledEventId[] = "eeeeeeee-eeee-4eee-8eee-000000000002";
constexpr char kEmail[] = "fixture@example.com";
constexpr char kBookingId[] = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
constexpr char kCorrelationId[] = "fixture-correlation-id";
constexpr int64_t kPublishedSeconds = 1'704'164'645;  // 2024-01-02T03:04:05.678Z
constexpr int32_t kPublishedNanos = 678'000'000;

std::string ReadFixture(const std::string& type) {
  std::ifstream in(kFixtures / (type + ".binpb"), std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void ExpectHeader(const tickets::v1::EventHeader& header, const std::string& event_id,
                  const std::string& ticket_id) {
  EXPECT_EQ(header.id(), event_id);
  EXPECT_EQ(header.published_at().seconds(), kPublishedSeconds);
  EXPECT_EQ(header.published_at().nanos(), kPublishedNanos);
  EXPECT_EQ(header.idempotency_key(), "fixture-idempotency-key/" + ticket_id);
  EXPECT_EQ(header.correlation_id(), kCorrelationId);
  EXPECT_TRUE(header.GetReflection()->GetUnknownFields(header).empty());
}

// Everything a fixture carries is a field today's code knows (none is left in unknown fields).
template <typename Message>
void ExpectEvent(const std::string& event_id, const std::string& ticket_id) {
  const std::string type = Message::descriptor()->full_name();
  const std::string bytes = ReadFixture(type);
  ASSERT_FALSE(bytes.empty()) << "no fixture for " << type << " in " << kFixtures;
  Message event;
  ASSERT_TRUE(event.ParseFromString(bytes)) << type;
  ExpectHeader(event.header(), event_id, ticket_id);
  EXPECT_EQ(event.ticket_id(), ticket_id);
  EXPECT_EQ(event.customer_email(), kEmail);
  EXPECT_EQ(event.price().amount(), "12.50");
  EXPECT_EQ(event.price().currency(), "EUR");
  EXPECT_EQ(event.booking_id(), kBookingId);
  EXPECT_TRUE(event.GetReflection()->GetUnknownFields(event).empty()) << type;
}

// A stored event as the durable log hands it to a lane, read the way StoreTickets,
// IssueReceipt and AppendToSheet read it.
absl::StatusOr<domain::Ticket> ReadAsHandler(const std::string& type, const std::string& event_id,
                                             const std::string& ticket_id) {
  storage::EventRecord record;
  record.event_id = event_id;
  record.event_type = type;
  record.ticket_id = ticket_id;
  record.idempotency_key = "fixture-idempotency-key/" + ticket_id;
  record.correlation_id = kCorrelationId;
  record.payload = ReadFixture(type);
  record.sequence = 42;
  return domain::ParseTicketEvent(delivery::EventFromRecord(std::move(record)));
}

TEST(EventFixtureTest, ConfirmedDecodesWithItsRecordedValues) {
  ExpectEvent<tickets::v1::TicketBookingConfirmed>(kConfirmedEventId, kConfirmedTicket);
}

TEST(EventFixtureTest, CanceledDecodesWithItsRecordedValues) {
  ExpectEvent<tickets::v1::TicketBookingCanceled>(kCanceledEventId, kCanceledTicket);
}

TEST(EventFixtureTest, HandlersReadStoredConfirmed) {
  absl::StatusOr<domain::Ticket> ticket =
      ReadAsHandler("tickets.v1.TicketBookingConfirmed", kConfirmedEventId, kConfirmedTicket);
  ASSERT_TRUE(ticket.ok()) << ticket.status();
  EXPECT_EQ(ticket->ticket_id, kConfirmedTicket);
  EXPECT_EQ(ticket->customer_email, kEmail);
  EXPECT_EQ(ticket->price_amount, "12.50");
  EXPECT_EQ(ticket->price_currency, "EUR");
  EXPECT_EQ(ticket->status, "confirmed");
  EXPECT_EQ(ticket->booking_id, kBookingId);
  EXPECT_EQ(ticket->last_event_sequence, 42);
}

TEST(EventFixtureTest, HandlersReadStoredCanceled) {
  absl::StatusOr<domain::Ticket> ticket =
      ReadAsHandler("tickets.v1.TicketBookingCanceled", kCanceledEventId, kCanceledTicket);
  ASSERT_TRUE(ticket.ok()) << ticket.status();
  EXPECT_EQ(ticket->ticket_id, kCanceledTicket);
  EXPECT_EQ(ticket->customer_email, kEmail);
  EXPECT_EQ(ticket->price_amount, "12.50");
  EXPECT_EQ(ticket->price_currency, "EUR");
  EXPECT_EQ(ticket->status, "canceled");
  EXPECT_EQ(ticket->booking_id, kBookingId);
  EXPECT_EQ(ticket->last_event_sequence, 42);
}

// An event type is a message with an EventHeader `header`; each needs at least one fixture so
// its stored form is pinned from the first release that writes it.
TEST(EventFixtureTest, EveryEventTypeHasAFixture) {
  const auto* file = tickets::v1::EventHeader::descriptor()->file();
  int event_types = 0;
  for (int i = 0; i < file->message_type_count(); ++i) {
    const auto* message = file->message_type(i);
    const auto* header = message->FindFieldByName("header");
    if (header == nullptr || header->message_type() != tickets::v1::EventHeader::descriptor()) {
      continue;
    }
    ++event_types;
    EXPECT_TRUE(fs::exists(kFixtures / (message->full_name() + ".binpb")))
        << "no fixture for " << message->full_name() << ": run event-fixtures (CONTRIBUTING.md)";
  }
  EXPECT_GE(event_types, 2);
}

}  // namespace
}  // namespace booking::protos
