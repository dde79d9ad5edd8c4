#include "server/in_flight_calls.h"

namespace booking::server {

bool InFlightCalls::Enter(const std::string& key, Waiter waiter) {
  common::MutexLock lock(mu_);
  auto [it, first] = waiters_.try_emplace(key);
  if (!first) it->second.push_back(std::move(waiter));
  return first;
}

void InFlightCalls::Finish(const std::string& key, const Outcome& outcome) {
  std::vector<Waiter> waiting;
  {
    common::MutexLock lock(mu_);
    auto it = waiters_.find(key);
    if (it == waiters_.end()) return;
    waiting = std::move(it->second);
    waiters_.erase(it);
  }
  for (Waiter& waiter : waiting) std::move(waiter)(outcome);
}

size_t InFlightCalls::keys_in_flight() const {
  common::MutexLock lock(mu_);
  return waiters_.size();
}

}  // namespace booking::server
