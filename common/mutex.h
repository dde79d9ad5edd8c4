#pragma once

// booking::Mutex, MutexLock and CondVar: std::mutex and std::condition_variable with Clang
// thread-safety annotations.
//
// Why not std::mutex directly: libstdc++'s std::mutex and std::lock_guard carry no capability
// annotations, so Clang's -Wthread-safety cannot check ABSL_GUARDED_BY(mu_) against them: it
// rejects the attribute, and since it never sees the lock taken, it flags every access, locked
// or not. Why not absl::Mutex: Debian's Abseil is built without ThreadSanitizer hooks, so TSan
// cannot see absl::Mutex's ordering; these wrap pthread mutexes, which TSan intercepts. g++
// ignores the annotations: only the Clang build (tools/build.sh --compiler clang) checks them.
//
// Waiting: the Wait* functions wait once and may wake spuriously, so callers loop over their
// condition; the Await* functions take the condition and loop themselves (as std's predicate
// overloads do). A condition that reads guarded members must say so, or Clang rejects the read:
//
//   MutexLock lock(mu_);
//   wake_.AwaitFor(mu_, interval_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_; });
//
// Relative timeouts (…For) are measured on the steady clock, so a step of the wall clock neither
// stretches nor cuts them; deadlines (…Until) are absl::Time, i.e. wall-clock time.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <type_traits>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace booking::common {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  // True when the lock was taken.
  [[nodiscard]] bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return mu_.try_lock(); }

  // Checks nothing at run time: tells the analysis the caller holds the lock, where it cannot
  // see that (e.g. a callback the owner runs under the lock).
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` for its scope, like std::lock_guard (which the analysis cannot see through).
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// std::condition_variable over a booking::Mutex. Every wait requires `mu` held, releases it
// while blocked and holds it again on return, however it returns.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Blocks until notified (or woken spuriously).
  void Wait(Mutex& mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    WithAdopted(mu, [&](std::unique_lock<std::mutex>& lock) { cv_.wait(lock); });
  }
  // Blocks until notified (or woken spuriously) or until `timeout` has passed. Returns true when
  // it timed out (as absl::CondVar::WaitWithTimeout does); InfiniteDuration never times out.
  bool WaitFor(Mutex& mu, absl::Duration timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (timeout == absl::InfiniteDuration()) {
      Wait(mu);
      return false;
    }
    return WithAdopted(mu, [&](std::unique_lock<std::mutex>& lock) {
      return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout)) == std::cv_status::timeout;
    });
  }
  // Blocks until notified (or woken spuriously) or until `deadline`. Returns true when it timed
  // out.
  bool WaitUntil(Mutex& mu, absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return WithAdopted(mu, [&](std::unique_lock<std::mutex>& lock) {
      return cv_.wait_until(lock, absl::ToChronoTime(deadline)) == std::cv_status::timeout;
    });
  }

  // Blocks until `done()` is true; `done` runs with `mu` held.
  template <typename Condition>
  void Await(Mutex& mu, Condition done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    WithAdopted(mu, [&](std::unique_lock<std::mutex>& lock) { cv_.wait(lock, std::move(done)); });
  }
  // Blocks until `done()` is true or `timeout` has passed. Returns done(): true when the
  // condition holds (as absl::Mutex::AwaitWithTimeout does), false when it timed out without.
  template <typename Condition>
  bool AwaitFor(Mutex& mu, absl::Duration timeout, Condition done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (timeout == absl::InfiniteDuration()) {
      Await(mu, std::move(done));
      return true;
    }
    return WithAdopted(mu, [&](std::unique_lock<std::mutex>& lock) {
      return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), std::move(done));
    });
  }
  // Blocks until `done()` is true or `deadline`. Returns done().
  template <typename Condition>
  bool AwaitUntil(Mutex& mu, absl::Time deadline, Condition done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return WithAdopted(mu, [&](std::unique_lock<std::mutex>& lock) {
      return cv_.wait_until(lock, absl::ToChronoTime(deadline), std::move(done));
    });
  }

  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

 private:
  // Runs `wait` with `mu`'s std::mutex adopted by a std::unique_lock (what std waits take), and
  // takes it back from the unique_lock afterwards, even if `wait` throws (a condition may):
  // the caller's MutexLock, not the unique_lock, unlocks it.
  template <typename Wait>
  static std::invoke_result_t<Wait&, std::unique_lock<std::mutex>&> WithAdopted(Mutex& mu,
                                                                                Wait wait) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    struct Release {
      std::unique_lock<std::mutex>& lock;
      ~Release() { lock.release(); }
    } release{lock};
    return wait(lock);
  }

  std::condition_variable cv_;
};

}  // namespace booking::common
