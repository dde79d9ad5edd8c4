#include "clients/call_pool.h"

#include <pthread.h>

#include "absl/strings/str_cat.h"

namespace booking::clients {

CallPool::CallPool(int threads, std::string name) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    threads_.emplace_back([this, name, i] {
      // Linux limits thread names to 15 characters.
      pthread_setname_np(pthread_self(), absl::StrCat(name, "-", i).substr(0, 15).c_str());
      Run();
    });
  }
}

CallPool::~CallPool() {
  {
    common::MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.NotifyAll();
  for (std::thread& thread : threads_) thread.join();
}

int CallPool::in_flight() const {
  common::MutexLock lock(mu_);
  return busy_;
}

void CallPool::Run() {
  while (true) {
    absl::AnyInvocable<void() &&> task;
    {
      common::MutexLock lock(mu_);
      wake_.Await(mu_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !tasks_.empty();
      });
      if (tasks_.empty()) return;  // stopping, and nothing left
      task = std::move(tasks_.front());
      tasks_.pop_front();
      ++busy_;
    }
    std::move(task)();
    common::MutexLock lock(mu_);
    --busy_;
  }
}

void CallPool::RunAll(size_t n, absl::FunctionRef<void(size_t)> fn) {
  if (n == 0) return;
  if (n == 1) {  // nothing to overlap: no hand-off
    fn(0);
    return;
  }
  common::Mutex done_mu;
  common::CondVar done_cv;
  size_t left = n;  // guarded by done_mu (a local cannot carry ABSL_GUARDED_BY)
  {
    common::MutexLock lock(mu_);
    for (size_t i = 0; i < n; ++i) {
      tasks_.push_back([&, i] {
        fn(i);
        common::MutexLock done_lock(done_mu);
        if (--left == 0) done_cv.NotifyAll();
      });
    }
  }
  wake_.NotifyAll();
  // Bounded: every task is a call with its own timeout.
  common::MutexLock lock(done_mu);
  done_cv.Await(done_mu, [&] { return left == 0; });
}

}  // namespace booking::clients
