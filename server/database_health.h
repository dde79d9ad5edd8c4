#pragma once

#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/periodic_task.h"
#include "storage/connection_pool.h"

namespace booking::server {

// Reports the services NOT_SERVING through grpc.health.v1 while PostgreSQL does not answer, and
// SERVING again once it does: checks every `interval` on its own thread. A check that gets no
// answer ends at the pool's transaction_timeout. `reachable`, when set, follows the same state
// (calls refuse at once while it is false).
class DatabaseHealth {
 public:
  DatabaseHealth(storage::ConnectionPool& pool, grpc::HealthCheckServiceInterface& health,
                 std::vector<std::string> services, absl::Duration interval,
                 std::atomic<bool>* reachable = nullptr);
  ~DatabaseHealth();
  DatabaseHealth(const DatabaseHealth&) = delete;
  DatabaseHealth& operator=(const DatabaseHealth&) = delete;

 private:
  void Check();  // on the task's thread only

  storage::ConnectionPool& pool_;
  grpc::HealthCheckServiceInterface& health_;
  const std::vector<std::string> services_;
  std::atomic<bool>* const reachable_;
  bool serving_ = true;        // task thread only
  common::PeriodicTask task_;  // last: stopped first, before what it uses goes
};

}  // namespace booking::server
