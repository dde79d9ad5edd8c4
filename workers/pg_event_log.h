#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "metrics/metrics.h"
#include "storage/event_store.h"
#include "workers/event_log.h"
#include <functional>

namespace booking::workers {

struct PgEventLogOptions {
  size_t max_batch_events = 2000;                   // events in one group commit
  absl::Duration max_delay = absl::ZeroDuration();  // wait for more before committing
  size_t max_pending_events = 20000;  // beyond this, Append refuses (RESOURCE_EXHAUSTED)
  // Group commits in flight at once. With one, calls that arrive during a commit wait for it to
  // finish before theirs can start; with two, the next commit overlaps the previous one's fsync.
  int writers = 2;
  metrics::Metrics* metrics = nullptr;  // commit sizes and latency, events published
  // Runs on the writer thread after each commit that published events: wakes the handlers.
  std::function<void()> on_commit;
};

// The durable EventLog. Appends from concurrent calls are committed together by a writer
// thread (group commit; `writers` of them, each with its own transaction): it takes what has
// arrived (up to max_batch_events, after waiting at most max_delay for more), writes the events in
// one statement, and only then runs each call's callback, from the writer thread. Handlers read
// the events from the log (HandlerLane); on_commit tells them there is something to read.
class PgEventLog final : public EventLog {
 public:
  PgEventLog(storage::EventStore& store, PgEventLogOptions options);
  ~PgEventLog() override;  // commits what is pending, then stops
  PgEventLog(const PgEventLog&) = delete;
  PgEventLog& operator=(const PgEventLog&) = delete;

  void Append(std::vector<Event> events, AppendCallback done) override;

  struct Stats {
    long long commits = 0;
    long long events = 0;
    size_t largest_batch = 0;
  };
  Stats stats() const;

 private:
  struct Pending {
    std::vector<Event> events;
    AppendCallback done;
  };

  void Run();
  void Commit(std::vector<Pending> batch);

  storage::EventStore& store_;
  const PgEventLogOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  size_t pending_events_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> writers_;
};

}  // namespace booking::workers
