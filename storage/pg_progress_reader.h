#pragma once

#include "storage/connection_pool.h"
#include "storage/progress_reader.h"

namespace booking::storage {

// ProgressReader on PostgreSQL, in one statement: an event is finished by a handler once the
// handler's checkpoint on the event's partition has passed it and no redelivery of it is
// waiting; dead-lettered when a dead letter holds it.
class PgProgressReader final : public ProgressReader {
 public:
  explicit PgProgressReader(ConnectionPool& pool) : pool_(pool) {}

  absl::StatusOr<std::vector<HandlerState>> Read(
      absl::Span<const std::string> idempotency_keys) override;

 private:
  ConnectionPool& pool_;
};

}  // namespace booking::storage
