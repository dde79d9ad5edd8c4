#include "server/query_executor.h"

#include <pthread.h>

#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "common/reservation.h"

namespace booking::server {

QueryExecutor::QueryExecutor(int threads, int max_pending, std::string thread_name)
    : max_pending_(max_pending), work_(boost::asio::make_work_guard(io_)) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    threads_.emplace_back([this, name = absl::StrCat(thread_name, "-", i).substr(0, 15)] {
      pthread_setname_np(pthread_self(), name.c_str());
      io_.run();
    });
  }
}

QueryExecutor::~QueryExecutor() { Stop(); }

bool QueryExecutor::TrySubmit(absl::AnyInvocable<void() &&> task) {
  if (stopped_.load()) return false;
  std::optional<common::Reservation> slot = common::Reservation::TryTake(pending_, 1, max_pending_);
  if (!slot.has_value()) return false;
  boost::asio::post(io_, [task = std::move(task), slot = *std::move(slot)]() mutable {
    std::move(task)();
  });  // the slot is given back when the task is done (or dropped unrun at Stop)
  return true;
}

void QueryExecutor::Stop() {
  if (stopped_.exchange(true)) return;
  work_.reset();  // run() returns once the queued tasks are done
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace booking::server
