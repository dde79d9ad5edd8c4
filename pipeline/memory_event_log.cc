#include "pipeline/memory_event_log.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace booking::pipeline {

MemoryEventLog::MemoryEventLog(EventQueue& queue, MemoryEventLogOptions options)
    : queue_(queue), options_(options), next_sequence_(options.first_sequence) {}

void MemoryEventLog::ForgetExpired(absl::Time now) {
  while (!key_order_.empty() && (key_order_.front().first + options_.idempotency_ttl <= now ||
                                 key_order_.size() > options_.max_idempotency_keys)) {
    keys_.erase(key_order_.front().second);
    key_order_.pop_front();
  }
  while (!call_order_.empty() && (call_order_.front().first + options_.idempotency_ttl <= now ||
                                  call_order_.size() > options_.max_idempotency_keys)) {
    calls_.erase(call_order_.front().second);
    call_order_.pop_front();
  }
}

void MemoryEventLog::Append(CallIdentity call, std::vector<domain::Event> events,
                            AppendCallback done) {
  std::move(done)(Publish(std::move(call), std::move(events)));
}

absl::StatusOr<AppendResult> MemoryEventLog::Publish(CallIdentity call,
                                                     std::vector<domain::Event> events) {
  common::MutexLock lock(mu_);
  const absl::Time now = absl::Now();
  ForgetExpired(now);
  if (!call.idempotency_key.empty()) {
    if (auto it = calls_.find(call.idempotency_key); it != calls_.end()) {
      if (it->second.fingerprint != call.fingerprint) {
        return AppendResult{0, AppendResult::Outcome::kKeyReused};
      }
      return AppendResult{it->second.published, AppendResult::Outcome::kReplayed};
    }
  }
  std::vector<domain::Event> fresh;
  fresh.reserve(events.size());
  for (domain::Event& event : events) {
    if (!keys_.contains(event.idempotency_key)) fresh.push_back(std::move(event));
  }
  // Sequences are given under the lock, so queue order is publish order.
  int64_t sequence = next_sequence_;
  for (domain::Event& event : fresh) event.sequence = sequence++;
  const int published = static_cast<int>(fresh.size());
  std::vector<std::string> keys;
  keys.reserve(fresh.size());
  for (const domain::Event& event : fresh) keys.push_back(event.idempotency_key);
  if (!queue_.TryPushAll(fresh)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("event queue full (capacity ", queue_.capacity(), "); retry later"));
  }
  next_sequence_ = sequence;
  for (std::string& key : keys) {
    key_order_.emplace_back(now, key);
    keys_.insert(std::move(key));
  }
  if (!call.idempotency_key.empty()) {
    calls_[call.idempotency_key] = {call.fingerprint, published};
    call_order_.emplace_back(now, call.idempotency_key);
  }
  ForgetExpired(now);
  if (options_.metrics != nullptr) options_.metrics->EventsPublished(fresh.size());
  return AppendResult{published};
}

}  // namespace booking::pipeline
