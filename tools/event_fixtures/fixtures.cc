#include "tools/event_fixtures/fixtures.h"

#include <string>

#include "absl/time/time.h"
#include "delivery/event_conversion.h"
#include "domain/event_factory.h"
#include "tickets/v1/booking.pb.h"
#include "tickets/v1/events.pb.h"

namespace booking::tools {
namespace {

// The factory gives every event a random id; pinning it keeps a fixture reproducible byte for
// byte. Re-encoding with the same generated code changes nothing else.
template <typename Message>
void PinEventId(domain::Event& event, const std::string& id) {
  Message message;
  if (!message.ParseFromString(event.payload)) return;
  message.mutable_header()->set_id(id);
  message.SerializeToString(&event.payload);
  event.id = id;
}

}  // namespace

std::vector<storage::EventRecord> FixtureRecords() {
  tickets::v1::UpdateTicketsStatusRequest request;
  auto* confirmed = request.add_tickets();
  confirmed->set_ticket_id("11111111-1111-4111-8111-111111111111");
  confirmed->set_status("confirmed");
  confirmed->set_customer_email("fixture@example.com");
  confirmed->mutable_price()->set_amount("12.50");
  confirmed->mutable_price()->set_currency("EUR");
  confirmed->set_booking_id("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb");
  auto* canceled = request.add_tickets();
  *canceled = *confirmed;
  canceled->set_ticket_id("22222222-2222-4222-8222-222222222222");
  canceled->set_status("canceled");

  // 2024-01-02T03:04:05.678Z
  const absl::Time published_at = absl::FromUnixMillis(1'704'164'645'678);
  std::vector<domain::Event> events = domain::BuildEvents(request, "fixture-idempotency-key",
                                                          "fixture-correlation-id", published_at);

  std::vector<storage::EventRecord> records;
  for (domain::Event& event : events) {
    if (event.type == tickets::v1::TicketBookingConfirmed::descriptor()->full_name()) {
      PinEventId<tickets::v1::TicketBookingConfirmed>(event,
                                                      "eeeeeeee-eeee-4eee-8eee-000000000001");
    } else {
      PinEventId<tickets::v1::TicketBookingCanceled>(event, "eeeeeeee-eeee-4eee-8eee-000000000002");
    }
    records.push_back(delivery::ToEventRecord(event));
  }
  return records;
}

}  // namespace booking::tools
