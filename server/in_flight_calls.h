#pragma once

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "common/mutex.h"
#include "pipeline/event_log.h"

namespace booking::server {

// Calls in flight per idempotency key, so that concurrent calls with one key reach the event log
// one at a time: the first goes on, the others wait for its outcome (no thread is held: each
// waiter is a callback run when the first finishes).
class InFlightCalls {
 public:
  // What the first call with a key came to.
  struct Outcome {
    std::string fingerprint;
    absl::StatusOr<pipeline::AppendResult> result;
  };
  using Waiter = absl::AnyInvocable<void(const Outcome&) &&>;

  // True: the caller is the first with `key` and must call Finish(key, ...) when done. False:
  // another call with `key` is in flight; `waiter` runs with its outcome when it finishes.
  [[nodiscard]] bool Enter(const std::string& key, Waiter waiter);
  // Ends the first call with `key` and runs its waiters (on this thread, outside the lock).
  void Finish(const std::string& key, const Outcome& outcome);

  size_t keys_in_flight() const;

 private:
  // booking::Mutex (a pthread mutex underneath), not absl::Mutex: Debian's libabsl is not built
  // for ThreadSanitizer, which then cannot see absl::Mutex's ordering.
  mutable common::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<Waiter>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace booking::server
