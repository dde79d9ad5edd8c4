#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "storage/event_store.h"
#include "workers/event_queue.h"

namespace booking::workers {

struct RecoverySweeperOptions {
  std::string owner;  // this instance's id, written on the leases it takes
  absl::Duration lease = absl::Seconds(30);
  absl::Duration interval = absl::Milliseconds(250);
  int max_claim = 1000;  // deliveries per sweep
};

// Claims deliveries that are due and unowned — retries whose backoff has passed, work of an
// instance that died (lease expired), events that did not fit in the queue — and puts them in
// the queue, as far as it has room. Runs on start and then every `interval`, on its own thread.
class RecoverySweeper {
 public:
  RecoverySweeper(storage::EventStore& store, EventQueue& queue, RecoverySweeperOptions options);
  ~RecoverySweeper();
  RecoverySweeper(const RecoverySweeper&) = delete;
  RecoverySweeper& operator=(const RecoverySweeper&) = delete;

  // One sweep; returns how many deliveries it queued.
  absl::StatusOr<int> SweepOnce();

  long long queued() const { return queued_.load(); }

 private:
  void Run();

  storage::EventStore& store_;
  EventQueue& queue_;
  const RecoverySweeperOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::atomic<long long> queued_{0};
  std::thread thread_;
};

}  // namespace booking::workers
