#include "handlers/publish_to_jetstream.h"

#include <algorithm>
#include <vector>

namespace booking::handlers {
namespace {

// A header value never carries a line break (it would end the header block) or other control
// characters; ids and keys are checked at the API already, this holds whatever comes.
std::string HeaderValue(std::string_view value) {
  std::string out(value.substr(0, 256));
  std::replace_if(
      out.begin(), out.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }, ' ');
  return out;
}

}  // namespace

clients::BrokerMessage PublishToJetStream::MessageOf(const domain::Event& event) {
  clients::BrokerMessage message;
  message.subject = event.type;
  message.id = event.id;
  message.data = event.payload;
  message.headers = {{"Content-Type", "application/protobuf"},
                     {"Event-Type", HeaderValue(event.type)},
                     {"Ticket-Id", HeaderValue(event.ticket_id)},
                     {"Event-Sequence", std::to_string(event.sequence)},
                     {"Correlation-ID", HeaderValue(event.correlation_id)}};
  return message;
}

absl::Status PublishToJetStream::Handle(absl::Span<const domain::Event* const> events) {
  std::vector<absl::Status> results(events.size());
  HandleEach(events, absl::MakeSpan(results));
  for (absl::Status& result : results) {
    if (!result.ok()) return result;
  }
  return absl::OkStatus();
}

void PublishToJetStream::HandleEach(absl::Span<const domain::Event* const> events,
                                    absl::Span<absl::Status> results) {
  std::vector<clients::BrokerMessage> messages;
  messages.reserve(events.size());
  for (const domain::Event* event : events) messages.push_back(MessageOf(*event));
  publisher_.PublishEach(messages, results);
}

}  // namespace booking::handlers
