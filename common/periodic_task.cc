#include "common/periodic_task.h"

#include <pthread.h>

namespace booking::common {

PeriodicTask::PeriodicTask(std::string name, absl::Duration interval, std::function<void()> fn)
    : name_(std::move(name)), interval_(interval), fn_(std::move(fn)) {}

PeriodicTask::~PeriodicTask() { Stop(); }

void PeriodicTask::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
    Run();
  });
}

void PeriodicTask::Wake() {
  {
    MutexLock lock(mu_);
    woken_ = true;
  }
  wake_.NotifyAll();
}

bool PeriodicTask::RunNow(absl::Duration timeout) {
  MutexLock lock(mu_);
  // A run in progress may have read its inputs before the call: wait for the one after it.
  const long long target = started_ + 1;
  woken_ = true;
  wake_.NotifyAll();
  return wake_.AwaitFor(mu_, timeout, [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return finished_ >= target || stopping_;
  }) && finished_ >= target;
}

void PeriodicTask::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void PeriodicTask::Run() {
  while (true) {
    {
      MutexLock lock(mu_);
      wake_.AwaitFor(mu_, interval_,
                     [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
      ++started_;
    }
    fn_();
    {
      MutexLock lock(mu_);
      ++finished_;
    }
    wake_.NotifyAll();  // RunNow callers
  }
}

}  // namespace booking::common
