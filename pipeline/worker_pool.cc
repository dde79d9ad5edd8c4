#include "pipeline/worker_pool.h"

#include <pthread.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace booking::pipeline {

WorkerPool::WorkerPool(EventQueue& queue, ProcessFn process, WorkerPoolOptions options)
    : queue_(queue), process_(std::move(process)), options_(std::move(options)) {}

WorkerPool::~WorkerPool() { Stop(absl::ZeroDuration()); }

void WorkerPool::Start() {
  const int n = options_.threads > 0 ? options_.threads : 1;
  {
    common::MutexLock lock(mu_);
    running_ = n;
  }
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this, i] {
      Run(i);
      common::MutexLock lock(mu_);
      --running_;
      exited_.NotifyAll();
    });
  }
}

size_t WorkerPool::Stop(absl::Duration drain_timeout, std::function<void()> when_late) {
  if (threads_.empty()) return queue_.size();
  const absl::Time deadline = absl::Now() + drain_timeout;
  drain_deadline_ns_.store(absl::ToUnixNanos(deadline));
  stopping_.store(true);
  bool late;
  {
    common::MutexLock lock(mu_);
    // A little past the deadline: workers notice it at their next poll.
    auto all_exited = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ == 0; };
    late = !exited_.AwaitUntil(mu_, deadline + 2 * options_.poll_interval, all_exited);
  }
  if (late && when_late) when_late();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  return queue_.size();
}

void WorkerPool::Run(int index) {
  // Linux limits thread names to 15 characters.
  const std::string name = absl::StrCat(options_.thread_name, "-", index).substr(0, 15);
  pthread_setname_np(pthread_self(), name.c_str());
  std::vector<domain::Event> batch;
  batch.reserve(options_.batch_size);
  while (true) {
    if (stopping_.load()) {
      const bool drained = queue_.size() == 0;
      const bool late = absl::Now() >= absl::FromUnixNanos(drain_deadline_ns_.load());
      if (drained || late) break;
    }
    batch.clear();
    if (queue_.PopBatch(batch, options_.batch_size, options_.poll_interval) == 0) continue;
    FillBatch(batch);
    process_(batch);
    processed_.fetch_add(static_cast<long long>(batch.size()), std::memory_order_relaxed);
  }
  spdlog::debug("worker stopped worker={}", name);
}

void WorkerPool::FillBatch(std::vector<domain::Event>& batch) {
  if (options_.linger <= absl::ZeroDuration()) return;
  const absl::Time deadline = absl::Now() + options_.linger;
  // Bounded by the deadline: each pass waits at most what is left of it.
  while (batch.size() < options_.batch_size && !stopping_.load()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    queue_.PopBatch(batch, options_.batch_size - batch.size(), left);
  }
}

}  // namespace booking::pipeline
