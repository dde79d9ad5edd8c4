#pragma once

#include <cstdint>
#include <optional>
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

// One call as the log remembers it under its idempotency key.
struct CallRecord {
  std::string idempotency_key;  // scoped by its caller, if it has one (pipeline::ScopedKey)
  std::string fingerprint;      // bytes; equal fingerprints mean the same request
  int accepted_events = 0;      // the call's answer
  // When idempotency_key is scoped: the key as sent. A call remembered under it (stored before
  // keys were scoped) is this call, and nothing is appended.
  std::string unscoped_key{};
};

// What a group append did.
struct AppendOutcome {
  std::vector<EventRecord> appended;  // events appended now, with their sequence, in that order
  // Per call, in the order given: nullopt when its key was new (its events were appended), or
  // what was already remembered for the key (nothing of this call was appended).
  std::vector<std::optional<CallRecord>> known;
  // Per call: OK, or why its answer is missing although the append committed (its key was
  // committed by a concurrent call whose answer could not be read afterwards). Nothing of such a
  // call was appended; a retry with its key gets the answer.
  std::vector<absl::Status> unanswered;
};

struct DeadLetterRecord {
  EventRecord event;
  std::string handler;
  int attempts = 0;
  std::string reason;
  absl::Time failed_at;
};

// Which dead letters a list or a retry concerns; a field left as it is matches every one.
struct DeadLetterFilter {
  std::string handler{};                              // exactly
  absl::Time failed_after = absl::InfinitePast();     // failed at this time or later
  absl::Time failed_before = absl::InfiniteFuture();  // failed before this time
  std::string reason_contains{};                      // ignoring case
};

struct DeadLetterPage {
  std::vector<DeadLetterRecord> letters;  // oldest first, at most the limit asked
  int64_t total_matching = 0;             // beyond the limit too
};

// A range of the log to run a handler over again: sequences and publish times, both inclusive
// at the start; an unset end is open.
struct ReplayRange {
  int64_t from_sequence = 0;
  int64_t to_sequence = 0;  // 0: no end
  absl::Time from_time = absl::InfinitePast();
  absl::Time to_time = absl::InfiniteFuture();  // exclusive
};

struct ReplayOutcome {
  std::string event_type;  // the handler's
  int64_t replayed = 0;    // events scheduled again now
};

// The durable event log with its dead letters and redeliveries. Thread-safe.
class EventStore {
 public:
  virtual ~EventStore() = default;

  // Appends the events of a group of calls, atomically. A call whose idempotency key is new is
  // remembered (key, fingerprint, answer) and its events appended; a call whose key is known
  // appends nothing and gets what is remembered. `call_of[i]` is the index in `calls` of
  // events[i]'s call, or -1 for an event of no call: such an event is a call of its own, under
  // its own key (the same key twice in one append: once). Handlers find the events through
  // their checkpoints (HandlerLog).
  // An error means nothing was committed, or (IsOutcomeUnknown, IsCommitted) says otherwise:
  // once the events are committed, the answer is never "nothing was published".
  [[nodiscard]] virtual absl::StatusOr<AppendOutcome> Append(absl::Span<const CallRecord> calls,
                                                             absl::Span<const EventRecord> events,
                                                             absl::Span<const int> call_of) = 0;

  // The events alone, of no call. Returns the appended ones, in sequence order.
  [[nodiscard]] absl::StatusOr<std::vector<EventRecord>> Append(
      absl::Span<const EventRecord> events) {
    const std::vector<int> none(events.size(), -1);
    absl::StatusOr<AppendOutcome> outcome = Append({}, events, none);
    if (!outcome.ok()) return outcome.status();
    return std::move(outcome->appended);
  }

  virtual absl::StatusOr<DeadLetterPage> ListDeadLetters(const DeadLetterFilter& filter,
                                                         int limit) = 0;

  // Sends the given (sequence, handler) dead letters back as redeliveries, which their handler
  // claims and runs again. Returns how many. NOT_FOUND naming the ids that are no dead letter (a
  // typo, or retried already), and nothing is sent back: named ones go all together or not at
  // all. A dry run answers the same and sends nothing back.
  virtual absl::StatusOr<int> RetryDeadLetters(
      absl::Span<const std::pair<int64_t, std::string>> ids, bool dry_run) = 0;

  // Sends back every dead letter matching `filter`, or on a dry run counts them.
  virtual absl::StatusOr<int> RetryMatching(const DeadLetterFilter& filter, bool dry_run) = 0;

  // Schedules the handler's events in `range` again, as redeliveries its lanes claim like any
  // other (handlers are idempotent, so a replay repairs and never doubles): every event of its
  // type in the range that it has passed, its dead letters there included (they leave the
  // dead-letter table). Events it has not reached yet are left to it; ones already scheduled
  // stay as they are. NOT_FOUND: no such handler registered; FAILED_PRECONDITION: the handler is
  // retired, or the range holds more than `max_events`, and nothing is scheduled.
  [[nodiscard]] virtual absl::StatusOr<ReplayOutcome> Replay(const std::string& handler,
                                                             const ReplayRange& range,
                                                             int64_t max_events) = 0;

  // Unfinished (event, handler) pairs: events past a handler's checkpoint, and redeliveries.
  virtual absl::StatusOr<int64_t> CountPending() = 0;

  // Deletes up to `limit` events published more than `older_than` ago that every handler has
  // passed (none pending, none dead-lettered; retired handlers do not count, and their dead
  // letters of those events are deleted with them), oldest first, and up to `limit` call
  // idempotency keys older than that. Returns how many events. Their idempotency keys are forgotten
  // with them, and so are any redeliveries of them (a replay racing the prune). Events a replay in
  // flight is scheduling are left for the next round.
  virtual absl::StatusOr<int> PruneFinished(absl::Duration older_than, int limit) = 0;

  // Deletes redeliveries whose event is gone (nobody could claim them, and they would count as
  // lag for ever). Returns how many.
  virtual absl::StatusOr<int> SweepOrphans() = 0;
};

}  // namespace booking::storage
