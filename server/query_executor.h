#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"

namespace booking::server {

// A few named threads that run blocking storage reads for the RPCs, so no gRPC thread ever waits
// on PostgreSQL. Bounded: when `max_pending` tasks are queued, TrySubmit refuses.
class QueryExecutor {
 public:
  QueryExecutor(int threads, int max_pending, std::string thread_name = "query");
  ~QueryExecutor();
  QueryExecutor(const QueryExecutor&) = delete;
  QueryExecutor& operator=(const QueryExecutor&) = delete;

  // Runs `task` on an executor thread. Returns false, without running it, when the executor is
  // saturated or stopped.
  bool TrySubmit(absl::AnyInvocable<void() &&> task);

  // Refuses new tasks, finishes the queued ones and joins the threads.
  void Stop();

 private:
  const size_t max_pending_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> pending_{0};
  std::atomic<bool> stopped_{false};
};

}  // namespace booking::server
