#pragma once

#include <vector>

#include "storage/connection_pool.h"
#include "storage/tracker_repository.h"

namespace booking::storage {

class PgTrackerRepository final : public TrackerRepository {
 public:
  static std::vector<PreparedStatement> Statements();

  explicit PgTrackerRepository(ConnectionPool& pool) : pool_(pool) {}

  absl::Status AppendAll(std::string_view sheet,
                         absl::Span<const domain::TrackerRow> rows) override;

 private:
  ConnectionPool& pool_;
};

}  // namespace booking::storage
