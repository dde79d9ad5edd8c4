#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "delivery/lease_keeper.h"
#include "delivery/retry_policy.h"
#include "domain/event.h"
#include "domain/handler.h"
#include "metrics/metrics.h"
#include "storage/handler_log.h"

namespace booking::workers {

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
  RetryOptions retry;
  // Called (on the lane's thread) after a commit recorded progress: calls waiting for their
  // events to be handled are answered at once rather than at the next poll.
  std::function<void()> on_progress;
};

// What a handler's lane is doing, for GetHandlerStatus and the metrics.
struct HandlerStatus {
  std::string handler;
  int64_t lag = 0;        // events not finished yet (log and redeliveries), all instances
  int in_flight = 0;      // events of the batch in hand not finished yet
  int retry_backlog = 0;  // of those, events waiting for a retry after a failure
  CircuitBreaker::State breaker = CircuitBreaker::State::kClosed;
  long long succeeded = 0;
  long long dead_lettered = 0;
  long long retried = 0;      // event attempts that failed and will be tried again
  long long redelivered = 0;  // events handed to this handler again (crash, dead letter sent back)
  long long stale_commits = 0;  // progress dropped: the partition changed owner meanwhile
  std::string last_error;
  absl::Time last_error_at = absl::InfinitePast();
};

// One handler's own lane over the durable log: its own thread, batch, retry state and breaker,
// so a slow or failing handler delays nothing but itself. A round reads the next events of the
// partitions this instance holds (one batch in flight per handler, so each ticket's events
// reach it in publish order), handles them (an external API's calls all in flight at once),
// and advances the checkpoints with one fenced commit. A retryable failure keeps the batch and
// retries only the events still failing, after a backoff, for at most retry_for; a permanent
// failure is narrowed down to its event by splitting the batch, and only that event becomes a
// dead letter.
class HandlerLane {
 public:
  HandlerLane(Handler& handler, std::string event_type, storage::HandlerLog& log,
              LeaseKeeper& keeper, LaneOptions options, metrics::Metrics* metrics = nullptr);
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
  const Handler& handler() const { return handler_; }
  const std::string& event_type() const { return event_type_; }

 private:
  struct Item;
  void Run();
  void Work(storage::HandlerBatchRead& batch);
  bool WorkOn(const std::vector<size_t>& part, std::vector<Item>& items);
  void Attempt(const std::vector<size_t>& subset, std::vector<Item>& items);
  void AttemptWhole(absl::Span<const Event* const> events, absl::Span<absl::Status> results);
  void Commit(const storage::HandlerBatchRead& batch, const std::vector<Item>& items);
  bool SleepUnlessStopped(absl::Duration duration);  // false: stopping
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  void NoteError(const absl::Status& status);

  Handler& handler_;
  const std::string event_type_;
  const std::string name_;
  storage::HandlerLog& log_;
  LeaseKeeper& keeper_;
  const LaneOptions options_;
  metrics::Metrics* const metrics_;
  CircuitBreaker breaker_;                                   // lane thread only
  absl::Time next_redelivery_check_ = absl::InfinitePast();  // lane thread only

  std::atomic<bool> stopping_{false};
  Mutex wake_mu_;
  CondVar wake_;
  bool woken_ ABSL_GUARDED_BY(wake_mu_) = false;

  mutable Mutex status_mu_;
  HandlerStatus status_ ABSL_GUARDED_BY(status_mu_);
  std::thread thread_;
};

}  // namespace booking::workers
