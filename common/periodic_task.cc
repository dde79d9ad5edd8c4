#include "common/periodic_task.h"

#include <pthread.h>

namespace booking::workers {

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
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

void PeriodicTask::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PeriodicTask::Run() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, absl::ToChronoNanoseconds(interval_),
                     [this] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
    fn_();
  }
}

}  // namespace booking::workers
