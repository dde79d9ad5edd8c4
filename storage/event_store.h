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

// Which handlers an event type has: one delivery per handler is tracked.
struct Route {
  std::string event_type;
  std::string handler;
};

// A delivery to run: an event and one of its handlers.
struct DeliveryRecord {
  EventRecord event;
  std::string handler;
  int attempts = 0;  // attempts made before this one
};

// What became of one attempt.
struct DeliveryOutcome {
  // kRelease gives an unstarted delivery back (shutdown): due at once, attempts unchanged.
  enum class Kind { kDone, kRetry, kDeadLetter, kRelease };
  int64_t sequence = 0;
  std::string handler;
  Kind kind = Kind::kDone;
  absl::Time retry_at;  // for kRetry
  std::string error;    // for kRetry and kDeadLetter
};

struct DeadLetterRecord {
  EventRecord event;
  std::string handler;
  int attempts = 0;
  std::string reason;
  absl::Time failed_at;
};

// The durable event log with its deliveries and dead letters. Thread-safe.
class EventStore {
 public:
  virtual ~EventStore() = default;

  // Appends the events whose idempotency key is new, with a delivery per route of their type, in
  // one transaction; events with a known key are skipped. The new deliveries are leased to
  // `owner` for `lease` (empty owner and zero lease: free for anyone to claim at once). Returns the
  // appended events with their sequence, in sequence order.
  virtual absl::StatusOr<std::vector<EventRecord>> Append(absl::Span<const EventRecord> events,
                                                          absl::Span<const Route> routes,
                                                          const std::string& owner,
                                                          absl::Duration lease) = 0;

  // Leases up to `limit` deliveries that nobody holds and that are due (oldest first, skipping
  // rows another instance is claiming) to `owner` for `lease`.
  virtual absl::StatusOr<std::vector<DeliveryRecord>> ClaimDue(const std::string& owner,
                                                               absl::Duration lease, int limit) = 0;

  // Records attempts in one transaction: done deliveries are removed, retries rescheduled (their
  // attempt counted), dead letters moved to dead_letters.
  virtual absl::Status Record(absl::Span<const DeliveryOutcome> outcomes) = 0;

  virtual absl::StatusOr<std::vector<DeadLetterRecord>> ListDeadLetters(int limit) = 0;

  // Sends dead letters back as fresh deliveries (attempts from zero): the given (sequence,
  // handler) pairs, or every dead letter when `all`. Returns how many.
  virtual absl::StatusOr<int> RetryDeadLetters(
      absl::Span<const std::pair<int64_t, std::string>> ids, bool all) = 0;

  // Unfinished deliveries (for shutdown logs and tests).
  virtual absl::StatusOr<int64_t> CountPending() = 0;

  // Deletes up to `limit` events published more than `older_than` ago whose deliveries are all
  // finished (none pending, none dead-lettered), oldest first. Returns how many. Their
  // idempotency keys are forgotten with them.
  virtual absl::StatusOr<int> PruneFinished(absl::Duration older_than, int limit) = 0;
};

}  // namespace booking::storage
