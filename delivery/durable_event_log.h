#pragma once

#include <concurrentqueue/blockingconcurrentqueue.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "metrics/metrics.h"
#include "pipeline/event_log.h"
#include "storage/event_store.h"

namespace booking::delivery {

struct DurableEventLogOptions {
  size_t max_batch_events = 2000;                   // events in one group commit
  absl::Duration max_delay = absl::ZeroDuration();  // wait for more before committing
  size_t max_pending_events = 20000;  // beyond this, Append refuses (RESOURCE_EXHAUSTED)
  // Group commits in flight at once. With one, calls that arrive during a commit wait for it to
  // finish before theirs can start; with two, the next commit overlaps the previous one's fsync.
  int writers = 2;
  metrics::Metrics* metrics = nullptr;  // commit sizes and latency, events published
  // Runs on the writer thread after each commit that published events, with their types: wakes
  // the handlers of those types only.
  std::function<void(const absl::flat_hash_set<std::string>& event_types)> on_commit{};
};

// The durable EventLog. gRPC threads hand their calls' events to a lock-free queue (moodycamel);
// writer threads drain it and commit what has arrived together (group commit; `writers` of
// them, each with its own connection): up to max_batch_events, after waiting at most max_delay
// for more, in one statement. Only then is each call's callback run, from the writer thread.
// Handlers read the events from the log (HandlerLane); on_commit tells them there is something
// to read.
class DurableEventLog final : public pipeline::EventLog {
 public:
  DurableEventLog(storage::EventStore& store, DurableEventLogOptions options);
  ~DurableEventLog() override;  // commits what is pending, then stops
  DurableEventLog(const DurableEventLog&) = delete;
  DurableEventLog& operator=(const DurableEventLog&) = delete;

  using pipeline::EventLog::Append;
  void Append(pipeline::CallIdentity call, std::vector<domain::Event> events,
              AppendCallback done) override;

  struct Stats {
    long long commits = 0;
    long long events = 0;
    size_t largest_batch = 0;
  };
  Stats stats() const;

 private:
  struct Pending {
    pipeline::CallIdentity call;
    std::vector<domain::Event> events;
    AppendCallback done;
  };

  void Run();
  void Commit(std::vector<Pending> batch);

  storage::EventStore& store_;
  const DurableEventLogOptions options_;
  moodycamel::BlockingConcurrentQueue<Pending> queue_;
  std::atomic<size_t> pending_events_{0};  // appended, not yet taken by a writer
  std::atomic<int> appending_{0};          // Append calls between their check and enqueue
  std::atomic<bool> stopping_{false};
  mutable common::Mutex stats_mu_;
  Stats stats_ ABSL_GUARDED_BY(stats_mu_);
  std::vector<std::thread> writers_;
};

}  // namespace booking::delivery
