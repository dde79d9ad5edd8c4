#include "workers/worker_pool.h"

#include <pthread.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace booking::workers {

WorkerPool::WorkerPool(EventQueue& queue, ProcessFn process, WorkerPoolOptions options)
    : queue_(queue), process_(std::move(process)), options_(std::move(options)) {}

WorkerPool::~WorkerPool() { Stop(absl::ZeroDuration()); }

void WorkerPool::Start() {
  const int n = options_.threads > 0 ? options_.threads : 1;
  for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { Run(i); });
}

size_t WorkerPool::Stop(absl::Duration drain_timeout) {
  if (threads_.empty()) return queue_.size();
  drain_deadline_ns_.store(absl::ToUnixNanos(absl::Now() + drain_timeout));
  stopping_.store(true);
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  return queue_.size();
}

void WorkerPool::Run(int index) {
  // Linux limits thread names to 15 characters.
  const std::string name = absl::StrCat(options_.thread_name, "-", index).substr(0, 15);
  pthread_setname_np(pthread_self(), name.c_str());
  std::vector<Event> batch;
  batch.reserve(options_.batch_size);
  while (true) {
    if (stopping_.load()) {
      const bool drained = queue_.size() == 0;
      const bool late = absl::Now() >= absl::FromUnixNanos(drain_deadline_ns_.load());
      if (drained || late) break;
    }
    batch.clear();
    if (queue_.PopBatch(batch, options_.batch_size, options_.poll_interval) == 0) continue;
    process_(batch);
    processed_.fetch_add(static_cast<long long>(batch.size()), std::memory_order_relaxed);
  }
  spdlog::debug("worker stopped thread={}", name);
}

}  // namespace booking::workers
