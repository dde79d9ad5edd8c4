#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "domain/event.h"
#include "pipeline/event_queue.h"

namespace booking::pipeline {

struct WorkerPoolOptions {
  int threads = 2;
  size_t batch_size = 256;  // most events one worker takes from the queue at once
  absl::Duration poll_interval = absl::Milliseconds(100);  // bound of each wait on the queue
  // After the first event, how long a worker waits for more before handling a partial batch:
  // under load a batch costs one transaction whatever its size, so a few milliseconds here
  // buy far fewer (and cheaper) transactions per event.
  absl::Duration linger = absl::ZeroDuration();
  std::string thread_name = "worker";  // threads are named "<name>-<index>"
};

// Threads that take batches of events from the queue and pass them to `process`.
class WorkerPool {
 public:
  // Called concurrently from the worker threads with a non-empty batch.
  using ProcessFn = std::function<void(std::vector<domain::Event>& batch)>;

  WorkerPool(EventQueue& queue, ProcessFn process, WorkerPoolOptions options);
  ~WorkerPool();  // stops without draining, if Stop was not called
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Start();

  // Lets workers go on until the queue is empty or `drain_timeout` has passed, then joins them.
  // If a worker is still busy with a batch at the deadline, `when_late` runs first (e.g. to make
  // slow calls fail fast). Returns the number of events left in the queue.
  size_t Stop(absl::Duration drain_timeout, std::function<void()> when_late = nullptr);

  long long processed() const { return processed_.load(std::memory_order_relaxed); }

 private:
  void Run(int index);
  void FillBatch(std::vector<domain::Event>& batch);  // tops `batch` up for at most options_.linger

  EventQueue& queue_;
  const ProcessFn process_;
  const WorkerPoolOptions options_;
  std::vector<std::thread> threads_;
  common::Mutex mu_;
  common::CondVar exited_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> drain_deadline_ns_{0};  // absl::ToUnixNanos of the drain deadline
  std::atomic<long long> processed_{0};
};

}  // namespace booking::pipeline
