#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "common/mutex.h"
#include "common/reservation.h"

namespace booking::server {

// Watch streams open per client, at most `per_client` each, so that one client cannot take
// every stream of the instance. Thread-safe.
class WatchQuota {
 public:
  // One client's stream: gives its place back when destroyed.
  class Slot {
   public:
    Slot(std::shared_ptr<std::atomic<size_t>> count, common::Reservation reservation)
        : count_(std::move(count)), reservation_(std::move(reservation)) {}

   private:
    std::shared_ptr<std::atomic<size_t>> count_;  // outlives reservation_ (declared first)
    common::Reservation reservation_;
  };

  explicit WatchQuota(size_t per_client) : per_client_(per_client) {}

  // A place for one more stream of `client`, or nullopt when it has per_client open.
  std::optional<Slot> TryTake(const std::string& client);
  size_t per_client() const { return per_client_; }

 private:
  const size_t per_client_;
  common::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<std::atomic<size_t>>> counts_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace booking::server
