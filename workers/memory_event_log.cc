#include "workers/memory_event_log.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace booking::workers {

MemoryEventLog::MemoryEventLog(EventQueue& queue, MemoryEventLogOptions options)
    : queue_(queue), options_(options), next_sequence_(options.first_sequence) {}

void MemoryEventLog::ForgetExpired(absl::Time now) {
  while (!key_order_.empty() && (key_order_.front().first + options_.idempotency_ttl <= now ||
                                 key_order_.size() > options_.max_idempotency_keys)) {
    keys_.erase(key_order_.front().second);
    key_order_.pop_front();
  }
}

void MemoryEventLog::Append(std::vector<Event> events, AppendCallback done) {
  absl::StatusOr<AppendResult> result;
  {
    std::lock_guard lock(mu_);
    const absl::Time now = absl::Now();
    ForgetExpired(now);
    std::vector<Event> fresh;
    fresh.reserve(events.size());
    for (Event& event : events) {
      if (!keys_.contains(event.idempotency_key)) fresh.push_back(std::move(event));
    }
    // Sequences are given under the lock, so queue order is publish order.
    int64_t sequence = next_sequence_;
    for (Event& event : fresh) event.sequence = sequence++;
    const int published = static_cast<int>(fresh.size());
    std::vector<std::string> keys;
    keys.reserve(fresh.size());
    for (const Event& event : fresh) keys.push_back(event.idempotency_key);
    if (!queue_.TryPushAll(fresh)) {
      result = absl::ResourceExhaustedError(
          absl::StrCat("event queue full (capacity ", queue_.capacity(), "); retry later"));
    } else {
      next_sequence_ = sequence;
      for (std::string& key : keys) {
        key_order_.emplace_back(now, key);
        keys_.insert(std::move(key));
      }
      ForgetExpired(now);
      result = AppendResult{published};
      if (options_.metrics != nullptr) options_.metrics->EventsPublished(fresh.size());
    }
  }
  std::move(done)(std::move(result));
}

}  // namespace booking::workers
