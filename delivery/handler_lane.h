#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "delivery/lease_keeper.h"
#include "delivery/retry_policy.h"
#include "domain/event.h"
#include "domain/handler.h"
#include "metrics/metrics.h"
#include "storage/handler_log.h"

namespace booking::delivery {

struct LaneOptions {
  int batch_per_partition = 256;                           // events read per held partition at once
  absl::Duration poll_interval = absl::Milliseconds(100);  // idle: how often the log is read
  // After a partial batch (or a wake-up), how long to let events gather before the next read.
  absl::Duration linger = absl::Milliseconds(20);
  absl::Duration redelivery_poll = absl::Seconds(1);  // how often redeliveries are looked for
  int max_redeliveries = 64;                          // claimed per read
  // An external API's events are called in chunks of this many (all in flight at once), each
  // chunk recorded when done: a crash repeats at most one chunk of calls.
  int call_chunk = 32;
  absl::Duration redelivery_lease = absl::Seconds(10);
  // The lane paused by failures that did not say whether the API or the event is at fault (every
  // call of a chunk failed, none with ApiFailure): when new events are committed meanwhile, one
  // round with them comes after at most this long, so a lone failing event is told apart from a
  // failing API by the calls after it, not after a long backoff.
  absl::Duration fresh_probe_gap = absl::Seconds(1);
  // Both the lane's pauses and each parked event's schedule (first_delay doubling to max_delay),
  // and retry_for, which bounds both.
  RetryOptions retry;
  // Called (on the lane's thread) after a commit recorded progress: calls waiting for their
  // events to be handled are answered at once rather than at the next poll.
  std::function<void()> on_progress;
};

// What a handler's lane is doing, for GetHandlerStatus and the metrics.
struct HandlerStatus {
  std::string handler;
  int64_t lag = 0;  // events not finished yet (log and redeliveries), all instances
  // When the oldest log event it has still to finish was published (InfiniteFuture: none).
  absl::Time oldest_unread = absl::InfiniteFuture();
  int in_flight = 0;      // events of the batch in hand not finished yet
  int retry_backlog = 0;  // of those, events waiting for a retry after a failure
  CircuitBreaker::State breaker = CircuitBreaker::State::kClosed;
  long long succeeded = 0;
  long long dead_lettered = 0;
  long long retried = 0;      // event attempts that failed and will be tried again
  long long redelivered = 0;  // events handed to this handler again (crash, dead letter sent back)
  long long stale_commits = 0;  // progress dropped: the partition changed owner meanwhile
  long long parked_here = 0;    // events this instance parked (failed on their own)
  // Parked events now, all instances (from the database, at most a few seconds old).
  int64_t parked = 0;
  absl::Time oldest_parked = absl::InfiniteFuture();  // the oldest one's first failure
  std::string last_error;
  absl::Time last_error_at = absl::InfinitePast();
};

// One handler's own lane over the durable log: its own thread, batch, retry state and breaker,
// so a slow or failing handler delays nothing but itself. A round reads the next events of the
// partitions this instance holds (one batch in flight per handler, so each ticket's events
// reach it in publish order), handles them (an external API's calls in chunks, all of a chunk
// in flight at once, at most one event per ticket), and advances the checkpoints with one fenced
// commit per chunk.
//
// Failures, for a handler that calls an API per event (reports_each):
// - the API is failing (a call marked ApiFailure: refused, 429, 503; or every call of the chunk
//   failed): the lane pauses with backoff and the breaker, its events stay in the log, and the
//   next round reads them again with whatever came after, so the calls after a lone odd event
//   tell the two cases apart. A breaker's probe is an event that has not failed yet if any.
// - the API refused this event (it failed while others of the chunk succeeded): the event is
//   parked, a row of `deliveries` with its own schedule (first_delay doubling to max_delay, for
//   at most retry_for, then a dead letter); the lane moves on, and the handler's later events
//   of that ticket queue behind it there, so the ticket's order holds and no other ticket waits.
// - not retryable: a dead letter at once.
// A batch-at-once handler (local tables) retries the failing part of its batch in place, and a
// permanent failure is narrowed down to its event by splitting the batch.
// The lane never calls for a partition it no longer holds (lease run out, or a commit found it
// taken over), so a duplicate after a takeover is at most a chunk of calls already in flight.
class HandlerLane {
 public:
  // `event_types`: those the handler is registered for, read in one order (per ticket, the
  // log's order across all of them).
  HandlerLane(domain::Handler& handler, std::vector<std::string> event_types,
              storage::HandlerLog& log, LeaseKeeper& keeper, LaneOptions options,
              metrics::Metrics* metrics = nullptr);
  ~HandlerLane();  // Stop()
  HandlerLane(const HandlerLane&) = delete;
  HandlerLane& operator=(const HandlerLane&) = delete;

  void Start();
  void Wake();  // new events may be in the log
  // Asks the lane to stop: it finishes the calls in flight (bounded by their timeouts), records
  // what is done, and exits; the rest of its batch stays in the log. Join with Join().
  void RequestStop();
  void Join();
  void Stop() {
    RequestStop();
    Join();
  }

  // One read and the work on what it returned, on the caller's thread. Returns the number of
  // events read. For tests; the lane's thread runs this in a loop.
  int RunOnce();

  HandlerStatus status() const;
  const domain::Handler& handler() const { return handler_; }
  const std::vector<std::string>& event_types() const { return event_types_; }

 private:
  struct Item;
  // A log event that failed in a round that paused the lane: when it first failed, and how often.
  struct Suspect {
    absl::Time first_failed;
    int failures = 0;
  };
  void Run();
  bool Paused(absl::Time now) const;
  void Work(storage::HandlerBatchRead& batch);
  // A handler that calls per event: chunks, parking, pauses.
  void WorkEach(storage::HandlerBatchRead& batch, std::vector<Item>& items);
  std::vector<size_t> NextChunk(std::vector<Item>& items,
                                absl::flat_hash_set<std::string>& queued_tickets);
  // A batch-at-once handler: in-place retries of what fails.
  bool WorkOn(const std::vector<size_t>& part, std::vector<Item>& items);
  void Attempt(const std::vector<size_t>& subset, std::vector<Item>& items,
               std::vector<absl::Status>* statuses = nullptr);
  void AttemptWhole(absl::Span<const domain::Event* const> events,
                    absl::Span<absl::Status> results);
  // Records what is final and not yet recorded; false when the lane lost a partition or could
  // not record (the rest of the batch is then left in the log).
  bool Commit(const storage::HandlerBatchRead& batch, std::vector<Item>& items);
  storage::HandlerProgress Progress(const storage::HandlerBatchRead& batch,
                                    const std::vector<Item>& items,
                                    std::vector<size_t>& recorded) const;
  // The database refused a commit for a reason a retry cannot fix: records the items one by
  // one, and an item whose record is refused becomes a dead letter with a reason it accepts.
  void CommitOneByOne(const storage::HandlerBatchRead& batch, std::vector<Item>& items,
                      const absl::Status& refusal);
  void OnCommitted(const storage::CommitResult& result, const storage::HandlerBatchRead& batch);
  bool SleepUnlessStopped(absl::Duration duration);  // false: stopping
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  void NoteError(const absl::Status& status);
  void NoteError(const std::string& error);

  domain::Handler& handler_;
  const std::vector<std::string> event_types_;
  const std::string name_;
  storage::HandlerLog& log_;
  LeaseKeeper& keeper_;
  const LaneOptions options_;
  metrics::Metrics* const metrics_;
  // Lane thread only:
  CircuitBreaker breaker_;
  absl::Time next_redelivery_check_ = absl::InfinitePast();
  absl::flat_hash_map<int64_t, Suspect> suspects_;  // by sequence; events of the batch in hand
  absl::Time resume_at_ = absl::InfinitePast();     // paused until then
  bool api_pause_ = false;  // the pause is the API's own word (ApiFailure), not inconclusive
  int failed_rounds_ = 0;
  absl::Time last_attempt_ = absl::InfinitePast();
  std::atomic<bool> fresh_events_{false};  // committed since the lane paused
  // Per partition, how far this lane itself handed events out (epoch, position): its own
  // re-reads after a pause are not redeliveries.
  absl::flat_hash_map<int, std::pair<int64_t, storage::LogPosition>> handed_out_;

  std::atomic<bool> stopping_{false};
  common::Mutex wake_mu_;
  common::CondVar wake_;
  bool woken_ ABSL_GUARDED_BY(wake_mu_) = false;

  mutable common::Mutex status_mu_;
  HandlerStatus status_ ABSL_GUARDED_BY(status_mu_);
  std::thread thread_;
};

}  // namespace booking::delivery
