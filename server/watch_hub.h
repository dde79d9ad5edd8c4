#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/periodic_task.h"
#include "storage/step_log.h"
#include "tickets/v1/booking.pb.h"

namespace booking::server {

struct WatchOptions {
  absl::Duration poll = absl::Milliseconds(20);  // while anyone watches (sooner if woken)
  size_t buffer = 1024;   // steps queued per stream before it is ended as too slow
  int read_limit = 1000;  // steps per read
  // What each handler's step means for a ticket (handlers::StepKinds()); others show as HANDLED.
  absl::flat_hash_map<std::string, tickets::v1::TicketStep::Kind> step_kinds = {};
};

// One watcher's queue of steps. Filled by the hub's thread, drained by whoever writes the
// stream; bounded: a watcher that falls `buffer` steps behind is ended with RESOURCE_EXHAUSTED.
class WatchSubscription {
 public:
  // Up to `max` steps to send next (history first, then live steps, in order).
  std::vector<storage::StepRecord> Take(size_t max);
  // OK while the stream goes on; once it has ended (too slow, shutdown, an error), why.
  [[nodiscard]] absl::Status ended() const;
  size_t queued() const;
  // True once the stream has a place in the log: at once for named tickets and resumes; for
  // "from now", when the hub has read where now is (an idle hub reads nothing until then).
  // A stream tells its client it is open only then, so nothing the client does next is missed.
  bool ready() const { return ready_.load(std::memory_order_acquire); }

 private:
  friend class WatchHub;
  WatchSubscription(std::vector<std::string> ticket_ids, std::function<void()> wake)
      : ticket_ids(std::move(ticket_ids)), wake(std::move(wake)) {}
  // Hub side: false when the buffer is full.
  bool Push(storage::StepRecord step, size_t buffer);
  void End(absl::Status status);

  const std::vector<std::string> ticket_ids;  // empty: every ticket
  // Hub side, under the hub's lock:
  storage::LogPosition after;  // only steps after this
  bool positioned = true;      // false: "from now", before the hub knows where now is
  bool wants_history = false;  // catching up: steps up to the hub's cursor still to be read
  // A client's resume position, not yet checked against the log (StepLog::Resume): it may be
  // from before a rebase of the positions. Checked on the hub's thread, never on a gRPC one.
  bool resume_unchecked = false;
  // Called by the hub without its lock held, possibly after Unsubscribe (hold weak references).
  const std::function<void()> wake;
  std::atomic<bool> ready_{false};
  mutable common::Mutex mu_;
  std::deque<storage::StepRecord> queue_ ABSL_GUARDED_BY(mu_);
  absl::Status ended_ ABSL_GUARDED_BY(mu_);
};

// Follows `ticket_steps` for every watch stream of this instance: one thread reads new steps
// (every `poll` while anyone watches, at once when woken by a local commit) and hands each to
// the streams that watch its ticket. A new stream first gets the steps already recorded (for
// its tickets, or after its resume position) up to where live reading continues, so nothing
// falls between reading and subscribing; it catches up a page (what its queue has room for) per
// round, so a resume far behind takes time, never memory. Reading the shared table, it sees
// every instance.
class WatchHub {
 public:
  WatchHub(storage::StepLog& steps, WatchOptions options = {});
  ~WatchHub();  // Stop()
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  void Start();
  const WatchOptions& options() const { return options_; }
  // Ends every stream with UNAVAILABLE (they may resume elsewhere) and stops reading.
  void Stop();
  void Wake() { task_.Wake(); }

  // Watches `ticket_ids` (empty: every ticket): after `resume` if given; else, for named
  // tickets, everything recorded about them; for every ticket, from now on. `wake` is called
  // (from the hub's thread, without locks held) whenever the subscription has steps or has
  // ended, possibly once more after Unsubscribe.
  std::shared_ptr<WatchSubscription> Subscribe(std::vector<std::string> ticket_ids,
                                               std::optional<storage::LogPosition> resume,
                                               std::function<void()> wake);
  void Unsubscribe(const std::shared_ptr<WatchSubscription>& subscription);

  size_t subscribers() const;
  void RunOnce();  // one round on the caller's thread (tests)

 private:
  using Subscription = std::shared_ptr<WatchSubscription>;
  void Round();
  void Remove(const Subscription& subscription) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the step unless the subscription is past it; false when the buffer is full.
  bool Deliver(const Subscription& subscription, const storage::StepRecord& step)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LogError(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(round_mu_);

  storage::StepLog& steps_;
  const WatchOptions options_;
  mutable common::Mutex mu_;
  std::vector<Subscription> all_ ABSL_GUARDED_BY(mu_);  // every subscription
  absl::flat_hash_map<std::string, std::vector<Subscription>> by_ticket_ ABSL_GUARDED_BY(mu_);
  std::vector<Subscription> every_ticket_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  common::Mutex round_mu_;  // one round at a time (the thread, or RunOnce)
  // Written under both locks, read under either: steps up to here are handed out. (No
  // annotation says "either"; Round holds round_mu_, Subscribe mu_.)
  bool positioned_ = false;
  storage::LogPosition cursor_;
  absl::Time last_error_log_ ABSL_GUARDED_BY(round_mu_) = absl::InfinitePast();
  common::PeriodicTask task_;
};

// Resume tokens: opaque to clients ("<tx>.<sequence>").
std::string ResumeToken(const storage::LogPosition& position);
std::optional<storage::LogPosition> ParseResumeToken(const std::string& token);

}  // namespace booking::server
