#pragma once

#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace booking::common {

// Runs `fn` on a named thread of its own every `interval` (sooner when woken) until stopped.
class PeriodicTask {
 public:
  PeriodicTask(std::string name, absl::Duration interval, std::function<void()> fn);
  ~PeriodicTask();  // Stop()
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  void Start();
  void Wake();  // runs fn now (after the current run, if one is in progress)
  // Runs fn now, as Wake does, and returns once that run has finished: true, or false if the
  // task stopped or `timeout` passed first. For tests, instead of polling for its effect.
  [[nodiscard]] bool RunNow(absl::Duration timeout = absl::Seconds(30));
  void Stop();  // waits for a run in progress, then joins

 private:
  void Run();

  const std::string name_;
  const absl::Duration interval_;
  const std::function<void()> fn_;
  Mutex mu_;
  CondVar wake_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  long long started_ ABSL_GUARDED_BY(mu_) = 0;   // runs begun
  long long finished_ ABSL_GUARDED_BY(mu_) = 0;  // runs ended
  std::thread thread_;
};

}  // namespace booking::common
