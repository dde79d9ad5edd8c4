#include "workers/delivery_recorder.h"

#include <pthread.h>

#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace booking::workers {

DeliveryRecorder::DeliveryRecorder(storage::EventStore& store, DeliveryRecorderOptions options)
    : store_(store), options_(options) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "recorder");
    Run();
  });
}

DeliveryRecorder::~DeliveryRecorder() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void DeliveryRecorder::Add(std::vector<storage::DeliveryOutcome> outcomes) {
  if (outcomes.empty()) return;
  bool full = false;
  {
    std::lock_guard lock(mu_);
    for (auto& outcome : outcomes) buffer_.push_back(std::move(outcome));
    if (buffer_.size() > options_.max_buffered) {
      const size_t excess = buffer_.size() - options_.max_buffered;
      buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(excess));
      dropped_ += static_cast<long long>(excess);
    }
    full = buffer_.size() >= options_.max_batch;
  }
  if (full) wake_.notify_one();
}

bool DeliveryRecorder::WriteSome() {
  std::lock_guard write_lock(write_mu_);
  std::vector<storage::DeliveryOutcome> batch;
  {
    std::lock_guard lock(mu_);
    const size_t n = std::min(buffer_.size(), options_.max_batch);
    batch.assign(std::make_move_iterator(buffer_.begin()),
                 std::make_move_iterator(buffer_.begin() + static_cast<std::ptrdiff_t>(n)));
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  if (batch.empty()) return true;
  absl::Status status = store_.Record(batch);
  std::lock_guard lock(mu_);
  if (status.ok()) {
    recorded_ += static_cast<long long>(batch.size());
    return true;
  }
  spdlog::warn("recording deliveries failed, will retry count={} error=\"{}\"", batch.size(),
               status.ToString());
  buffer_.insert(buffer_.begin(), std::make_move_iterator(batch.begin()),
                 std::make_move_iterator(batch.end()));
  return false;
}

size_t DeliveryRecorder::Flush(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    {
      std::lock_guard lock(mu_);
      if (buffer_.empty()) return 0;
    }
    if (!WriteSome()) absl::SleepFor(absl::Milliseconds(100));
  }
  std::lock_guard lock(mu_);
  return buffer_.size();
}

void DeliveryRecorder::Run() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, absl::ToChronoNanoseconds(options_.flush_interval),
                     [this] { return stopping_ || buffer_.size() >= options_.max_batch; });
      if (stopping_) break;
      if (buffer_.empty()) continue;
    }
    // After a failure, pause rather than hammer a database that is away.
    if (!WriteSome()) absl::SleepFor(absl::Milliseconds(500));
  }
  const size_t left = Flush(absl::Seconds(2));
  if (left > 0) {
    spdlog::warn("stopped with delivery outcomes unrecorded count={} (they will be redone)", left);
  }
}

long long DeliveryRecorder::recorded() const {
  std::lock_guard lock(mu_);
  return recorded_;
}

long long DeliveryRecorder::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace booking::workers
