#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "storage/event_store.h"

namespace booking::workers {

struct DeliveryRecorderOptions {
  size_t max_batch = 2000;  // outcomes per transaction
  absl::Duration flush_interval = absl::Milliseconds(20);
  size_t max_buffered = 200'000;  // memory bound while the database is away
};

// Writes delivery outcomes in batches from its own thread, so workers never wait on the
// database for bookkeeping. If a write fails the outcomes are kept and written later; beyond
// max_buffered the oldest are dropped, which is safe: an unrecorded delivery is claimed again
// when its lease expires and, handlers being idempotent, done again.
class DeliveryRecorder {
 public:
  DeliveryRecorder(storage::EventStore& store, DeliveryRecorderOptions options);
  ~DeliveryRecorder();  // flushes what it can, then stops
  DeliveryRecorder(const DeliveryRecorder&) = delete;
  DeliveryRecorder& operator=(const DeliveryRecorder&) = delete;

  void Add(std::vector<storage::DeliveryOutcome> outcomes);

  // Writes everything buffered now, trying for at most `timeout`. Returns what is left.
  size_t Flush(absl::Duration timeout);

  long long recorded() const;
  long long dropped() const;

 private:
  void Run();
  bool WriteSome();  // one batch; false when the write failed

  storage::EventStore& store_;
  const DeliveryRecorderOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<storage::DeliveryOutcome> buffer_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  long long recorded_ ABSL_GUARDED_BY(mu_) = 0;
  long long dropped_ ABSL_GUARDED_BY(mu_) = 0;
  std::mutex write_mu_;  // one writer at a time: the thread, or Flush
  std::thread thread_;
};

}  // namespace booking::workers
