#pragma once

#include <concurrentqueue/blockingconcurrentqueue.h>

#include <atomic>
#include <cstddef>
#include <vector>

#include "absl/time/time.h"
#include "domain/event.h"

namespace booking::pipeline {

// Bounded lock-free multi-producer multi-consumer queue of events, on moodycamel's
// BlockingConcurrentQueue. The bound is kept by reserving room in an atomic counter before
// enqueueing, so memory stays bounded whatever the load; consumers wait with a timeout.
class EventQueue {
 public:
  explicit EventQueue(size_t capacity);

  // All or nothing: enqueues every event (moving them out of `events`) and returns true, or
  // enqueues none, leaves `events` untouched and returns false when they do not fit.
  bool TryPushAll(std::vector<domain::Event>& events);

  // Room for `n` events, taken now and pushed later with PushReserved (or given back with
  // Unreserve): lets the event log decide before committing whether its events will fit.
  bool TryReserve(size_t n);
  void PushReserved(std::vector<domain::Event>& events);
  void Unreserve(size_t n) { size_.fetch_sub(n, std::memory_order_acq_rel); }

  // Appends up to `max` events to `out`, waiting up to `timeout` for the first one. Returns how
  // many were appended.
  size_t PopBatch(std::vector<domain::Event>& out, size_t max, absl::Duration timeout);

  size_t size() const { return size_.load(std::memory_order_relaxed); }
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  std::atomic<size_t> size_{0};  // events enqueued or reserved, not yet taken
  moodycamel::BlockingConcurrentQueue<domain::Event> queue_;
};

}  // namespace booking::pipeline
