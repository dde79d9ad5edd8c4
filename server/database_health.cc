#include "server/database_health.h"

#include <pthread.h>

#include <pqxx/pqxx>

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
      interval_(interval),
      reachable_(reachable) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "db-health");
    Run();
  });
}

DatabaseHealth::~DatabaseHealth() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void DatabaseHealth::Run() {
  bool serving = true;
  while (true) {
    absl::Status status = pool_.Run([](pqxx::transaction_base& txn) { txn.exec("SELECT 1"); });
    if (status.ok() != serving) {
      serving = status.ok();
      if (serving) {
        spdlog::info("postgres reachable again: health SERVING");
      } else {
        spdlog::error("postgres unreachable: health NOT_SERVING error={}",
                      LogValue(status.ToString()));
      }
      if (reachable_ != nullptr) reachable_->store(serving);
      health_.SetServingStatus(serving);
      for (const std::string& service : services_) health_.SetServingStatus(service, serving);
    }
    std::unique_lock lock(mu_);
    if (wake_.wait_for(lock, absl::ToChronoNanoseconds(interval_), [this] { return stopping_; })) {
      return;
    }
  }
}

}  // namespace booking::server
