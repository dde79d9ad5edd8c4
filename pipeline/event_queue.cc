#include "pipeline/event_queue.h"

#include <iterator>

namespace booking::pipeline {

EventQueue::EventQueue(size_t capacity) : capacity_(capacity), queue_(capacity) {}

bool EventQueue::TryReserve(size_t n) {
  size_t current = size_.load(std::memory_order_relaxed);
  do {
    if (current + n > capacity_) return false;
  } while (!size_.compare_exchange_weak(current, current + n, std::memory_order_acq_rel,
                                        std::memory_order_relaxed));
  return true;
}

void EventQueue::PushReserved(std::vector<domain::Event>& events) {
  if (events.empty()) return;
  if (!queue_.enqueue_bulk(std::make_move_iterator(events.begin()), events.size())) {
    // Only on allocation failure; nothing was moved. The events stay durable in the log (when
    // there is one) and come back once their lease expires.
    Unreserve(events.size());
    return;
  }
  events.clear();
}

bool EventQueue::TryPushAll(std::vector<domain::Event>& events) {
  const size_t n = events.size();
  if (n == 0) return true;
  if (!TryReserve(n)) return false;
  if (!queue_.enqueue_bulk(std::make_move_iterator(events.begin()), n)) {
    Unreserve(n);  // allocation failure; nothing was moved
    return false;
  }
  events.clear();
  return true;
}

size_t EventQueue::PopBatch(std::vector<domain::Event>& out, size_t max, absl::Duration timeout) {
  if (max == 0) return 0;
  const size_t before = out.size();
  out.resize(before + max);
  const size_t got =
      queue_.wait_dequeue_bulk_timed(out.begin() + static_cast<std::ptrdiff_t>(before), max,
                                     static_cast<std::int64_t>(absl::ToInt64Microseconds(timeout)));
  out.resize(before + got);
  if (got > 0) size_.fetch_sub(got, std::memory_order_acq_rel);
  return got;
}

}  // namespace booking::pipeline
