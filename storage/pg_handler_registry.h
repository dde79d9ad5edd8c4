#pragma once

#include <vector>

#include "storage/connection_pool.h"
#include "storage/handler_registry.h"

namespace booking::storage {

// HandlerRegistry on PostgreSQL: the `handlers` table, retirement as its `retired_at`.
class PgHandlerRegistry final : public HandlerRegistry {
 public:
  static std::vector<PreparedStatement> Statements();

  explicit PgHandlerRegistry(ConnectionPool& pool) : pool_(pool) {}

  absl::StatusOr<std::vector<RegisteredHandler>> List() override;
  absl::StatusOr<RegisteredHandler> Retire(const std::string& handler) override;

 private:
  ConnectionPool& pool_;
};

}  // namespace booking::storage
