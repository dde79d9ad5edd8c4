#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "common/mutex.h"

namespace booking::clients {

// A fixed set of threads that run blocking calls (to one external API) concurrently: however
// many handlers share it, at most `threads` calls are in flight. Thread-safe.
class CallPool {
 public:
  CallPool(int threads, std::string name);
  ~CallPool();  // runs what is queued, then joins
  CallPool(const CallPool&) = delete;
  CallPool& operator=(const CallPool&) = delete;

  // Runs fn(0) … fn(n - 1) on the pool and returns when all have returned.
  void RunAll(size_t n, absl::FunctionRef<void(size_t)> fn);

  int threads() const { return static_cast<int>(threads_.size()); }
  int in_flight() const;

 private:
  void Run();

  mutable common::Mutex mu_;
  common::CondVar wake_;
  std::deque<absl::AnyInvocable<void() &&>> tasks_ ABSL_GUARDED_BY(mu_);
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace booking::clients
