#pragma once

#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace booking::testing {

// A value that one thread (a callback on a server's or gRPC's thread) hands over once and the
// test waits for, with a bound. On booking's Mutex, so ThreadSanitizer sees the hand-over.
template <typename T>
class Awaited {
 public:
  // The first value set is kept; later ones are ignored.
  void Set(T value) {
    common::MutexLock lock(mu_);
    if (!value_.has_value()) value_.emplace(std::move(value));
    set_.NotifyAll();
  }

  // The value, once set within `timeout`; nullopt otherwise. Takes it: a second Take waits again.
  std::optional<T> Take(absl::Duration timeout = absl::Seconds(10)) {
    common::MutexLock lock(mu_);
    set_.AwaitFor(mu_, timeout,
                  [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return value_.has_value(); });
    return std::exchange(value_, std::nullopt);
  }

  bool has_value() {
    common::MutexLock lock(mu_);
    return value_.has_value();
  }

 private:
  common::Mutex mu_;
  common::CondVar set_;
  std::optional<T> value_ ABSL_GUARDED_BY(mu_);
};

}  // namespace booking::testing
