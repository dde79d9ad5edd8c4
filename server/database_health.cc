#include "server/database_health.h"

#include "common/log_value.h"
#include "spdlog/spdlog.h"

namespace booking::server {

DatabaseHealth::DatabaseHealth(storage::ConnectionPool& pool,
                               grpc::HealthCheckServiceInterface& health,
                               std::vector<std::string> services, absl::Duration interval,
                               std::atomic<bool>* reachable)
    : pool_(pool),
      health_(health),
      services_(std::move(services)),
      reachable_(reachable),
      task_("db-health", interval, [this] { Check(); }) {
  task_.Start();
  task_.Wake();  // the first check now, not one interval from now
}

DatabaseHealth::~DatabaseHealth() { task_.Stop(); }

void DatabaseHealth::Check() {
  const absl::Status status = pool_.Ping();
  if (status.ok() == serving_) return;
  serving_ = status.ok();
  if (serving_) {
    spdlog::info("postgres reachable again: health SERVING");
  } else {
    spdlog::error("postgres unreachable: health NOT_SERVING error={}",
                  common::LogValue(status.ToString()));
  }
  if (reachable_ != nullptr) reachable_->store(serving_);
  health_.SetServingStatus(serving_);
  for (const std::string& service : services_) health_.SetServingStatus(service, serving_);
}

}  // namespace booking::server
