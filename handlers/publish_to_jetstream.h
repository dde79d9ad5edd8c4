#pragma once

#include "clients/event_publisher.h"
#include "domain/handler.h"

namespace booking::handlers {

// Every event, of both types, to the broker: subject = the event's type
// (tickets.v1.TicketBookingConfirmed), data = its protobuf bytes, headers Nats-Msg-Id (the
// event id), Content-Type, Event-Type, Ticket-Id, Event-Sequence and Correlation-ID. Its lane
// reads both types in one order and calls at most one event per ticket at a time, so each
// ticket's events enter the stream in log order; the checkpoint moves only past acknowledged
// ones. The contract for subscribers: docs/events.md.
class PublishToJetStream final : public domain::Handler {
 public:
  PublishToJetStream(std::string_view name, clients::EventPublisher& publisher)
      : name_(name), publisher_(publisher) {}

  std::string_view name() const override { return name_; }
  absl::Status Handle(absl::Span<const domain::Event* const> events) override;
  void HandleEach(absl::Span<const domain::Event* const> events,
                  absl::Span<absl::Status> results) override;
  bool reports_each() const override { return true; }
  // A chunk is as large as the broker's window: one checkpoint commit per chunk, not per 32.
  int calls_at_once() const override { return publisher_.window(); }

  // The message an event becomes (for tests and the docs' examples).
  static clients::BrokerMessage MessageOf(const domain::Event& event);

 private:
  const std::string name_;
  clients::EventPublisher& publisher_;
};

}  // namespace booking::handlers
