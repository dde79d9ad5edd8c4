// PublishToJetStream: what an event becomes on the broker (the subscribers' contract), and that
// each event's own outcome comes back as its result.
#include "handlers/publish_to_jetstream.h"

#include <map>

#include "domain/event_types.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::handlers {
namespace {

using ::testing::Contains;
using ::testing::Pair;

class RecordingPublisher final : public clients::EventPublisher {
 public:
  void PublishEach(absl::Span<const clients::BrokerMessage> messages,
                   absl::Span<absl::Status> results) override {
    for (size_t i = 0; i < messages.size(); ++i) {
      published.push_back(messages[i]);
      payloads.emplace_back(messages[i].data);
      auto it = refuse.find(messages[i].id);
      results[i] = it == refuse.end() ? absl::OkStatus() : it->second;
    }
  }
  clients::PublisherState state() const override { return {}; }
  int window() const override { return 1000; }

  std::vector<clients::BrokerMessage> published;
  std::vector<std::string> payloads;  // copies: a message's data is the caller's
  std::map<std::string, absl::Status> refuse;
};

domain::Event MakeEvent(std::string id, std::string type) {
  domain::Event event;
  event.id = std::move(id);
  event.type = std::move(type);
  event.ticket_id = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
  event.correlation_id = "corr-1";
  event.payload = std::string("\x0a\x02hi", 4);
  event.sequence = 42;
  return event;
}

TEST(PublishToJetStreamTest, AnEventBecomesItsTypesSubjectWithTheContractsHeaders) {
  const domain::Event event = MakeEvent("e1", std::string(domain::kTicketCanceled));
  const clients::BrokerMessage message = PublishToJetStream::MessageOf(event);
  EXPECT_EQ(message.subject, "tickets.v1.TicketBookingCanceled");
  EXPECT_EQ(message.id, "e1");
  EXPECT_EQ(message.data, event.payload);
  EXPECT_THAT(message.headers, Contains(Pair("Content-Type", "application/protobuf")));
  EXPECT_THAT(message.headers, Contains(Pair("Event-Type", "tickets.v1.TicketBookingCanceled")));
  EXPECT_THAT(message.headers, Contains(Pair("Ticket-Id", event.ticket_id)));
  EXPECT_THAT(message.headers, Contains(Pair("Event-Sequence", "42")));
  EXPECT_THAT(message.headers, Contains(Pair("Correlation-ID", "corr-1")));
}

TEST(PublishToJetStreamTest, AHeaderValueNeverCarriesALineBreak) {
  domain::Event event = MakeEvent("e1", std::string(domain::kTicketConfirmed));
  event.correlation_id = "a\r\nNats-Msg-Id: forged";
  const clients::BrokerMessage message = PublishToJetStream::MessageOf(event);
  EXPECT_THAT(message.headers, Contains(Pair("Correlation-ID", "a  Nats-Msg-Id: forged")));
}

TEST(PublishToJetStreamTest, EachEventGetsItsOwnOutcome) {
  RecordingPublisher broker;
  broker.refuse["e2"] = absl::InvalidArgumentError("too large");
  PublishToJetStream relay("PublishToJetStream", broker);
  const domain::Event a = MakeEvent("e1", std::string(domain::kTicketConfirmed));
  const domain::Event b = MakeEvent("e2", std::string(domain::kTicketCanceled));
  const domain::Event* events[] = {&a, &b};
  std::vector<absl::Status> results(2);
  relay.HandleEach(events, absl::MakeSpan(results));
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(absl::IsInvalidArgument(results[1]));
  ASSERT_EQ(broker.published.size(), 2u);
  EXPECT_EQ(broker.payloads[1], b.payload);
  EXPECT_TRUE(relay.reports_each()) << "so one refused event is parked, not the batch";
  EXPECT_EQ(relay.calls_at_once(), 1000) << "chunks as large as the broker's window";
  EXPECT_TRUE(absl::IsInvalidArgument(relay.Handle(events)));
}

}  // namespace
}  // namespace booking::handlers
