#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace booking::clients {

// One message for a broker: its subject, bytes and headers. `id` is the broker's dedup key
// (JetStream's Nats-Msg-Id): the same id published again within the dedup window is stored once.
struct BrokerMessage {
  std::string subject;
  std::string id;
  std::string_view data;  // owned by the caller for the duration of the publish
  std::vector<std::pair<std::string, std::string>> headers;
};

// What the relay's connection is doing, for health, metrics and GetHandlerStatus.
struct PublisherState {
  bool connected = false;
  std::string server;          // the URL connected to (credentials left out)
  long long acknowledged = 0;  // messages the broker stored
  long long duplicates = 0;    // of those, ones it already had (a re-publish)
  long long pending = 0;       // published, acknowledgment awaited now
  long long reconnects = 0;
  long long failures = 0;  // publishes that failed or were not acknowledged in time
  std::string last_error;
  absl::Time last_error_at = absl::InfinitePast();
};

// Publishes to a broker that acknowledges what it stored (NATS JetStream). Thread-safe.
class EventPublisher {
 public:
  virtual ~EventPublisher() = default;

  // Publishes every message, all in flight at once, and waits (bounded by the acknowledgment
  // timeout) for each one's acknowledgment: results[i] is OK once messages[i] is stored, or was
  // already. A failure of the broker as a whole (not connected, no stream leader, no
  // acknowledgment in time) is retryable and marked ApiFailure; a message the broker can never
  // take (too large) is not retryable.
  virtual void PublishEach(absl::Span<const BrokerMessage> messages,
                           absl::Span<absl::Status> results) = 0;

  virtual PublisherState state() const = 0;

  // Publishes that may await their acknowledgment at once: the most PublishEach should be given.
  virtual int window() const = 0;
};

}  // namespace booking::clients
