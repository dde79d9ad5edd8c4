#include "server/watch_quota.h"

namespace booking::server {
namespace {

// Clients with no stream open are forgotten once this many are known, so that many clients
// passing by leave no trace.
constexpr size_t kForgetAbove = 4096;

}  // namespace

std::optional<WatchQuota::Slot> WatchQuota::TryTake(const std::string& client) {
  std::shared_ptr<std::atomic<size_t>> count;
  {
    common::MutexLock lock(mu_);
    if (counts_.size() > kForgetAbove) {
      absl::erase_if(counts_, [](const auto& entry) { return entry.second->load() == 0; });
    }
    std::shared_ptr<std::atomic<size_t>>& entry = counts_[client];
    if (entry == nullptr) entry = std::make_shared<std::atomic<size_t>>(0);
    count = entry;
  }
  std::optional<common::Reservation> reservation =
      common::Reservation::TryTake(*count, 1, per_client_);
  if (!reservation.has_value()) return std::nullopt;
  return Slot(std::move(count), *std::move(reservation));
}

}  // namespace booking::server
