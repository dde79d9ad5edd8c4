#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace booking::storage {

// An event as the log stores it.
struct EventRecord {
  std::string event_id;
  std::string event_type;
  std::string ticket_id;
  std::string idempotency_key;
  std::string correlation_id;
  std::string payload;   // protobuf bytes
  int64_t sequence = 0;  // given by the database on append
};

struct DeadLetterRecord {
  EventRecord event;
  std::string handler;
  int attempts = 0;
  std::string reason;
  absl::Time failed_at;
};

// The durable event log with its dead letters and redeliveries. Thread-safe.
class EventStore {
 public:
  virtual ~EventStore() = default;

  // Appends the events whose idempotency key is new, in one statement; events with a known key
  // are skipped. Handlers find them through their checkpoints (HandlerLog). Returns the appended
  // events with their sequence, in sequence order.
  [[nodiscard]] virtual absl::StatusOr<std::vector<EventRecord>> Append(
      absl::Span<const EventRecord> events) = 0;

  virtual absl::StatusOr<std::vector<DeadLetterRecord>> ListDeadLetters(int limit) = 0;

  // Sends dead letters back as redeliveries, which their handler claims and runs again: the given (sequence,
  // handler) pairs, or every dead letter when `all`. Returns how many.
  virtual absl::StatusOr<int> RetryDeadLetters(
      absl::Span<const std::pair<int64_t, std::string>> ids, bool all) = 0;

  // Unfinished (event, handler) pairs: events past a handler's checkpoint, and redeliveries.
  virtual absl::StatusOr<int64_t> CountPending() = 0;

  // Deletes up to `limit` events published more than `older_than` ago that every handler has
  // passed (none pending, none dead-lettered), oldest first. Returns how many. Their
  // idempotency keys are forgotten with them.
  virtual absl::StatusOr<int> PruneFinished(absl::Duration older_than, int limit) = 0;
};

}  // namespace booking::storage
