#pragma once

#include "storage/connection_pool.h"
#include "storage/step_log.h"

namespace booking::storage {

// StepLog over the `step_batches` table (and `events`, for what each step is about).
class PgStepLog final : public StepLog {
 public:
  explicit PgStepLog(ConnectionPool& pool) : pool_(pool) {}

  absl::StatusOr<LogPosition> Latest() override;
  absl::StatusOr<std::vector<StepRecord>> ReadAfter(LogPosition after, int limit) override;
  absl::StatusOr<std::vector<StepRecord>> ReadRange(absl::Span<const std::string> ticket_ids,
                                                    LogPosition after, LogPosition upto,
                                                    int limit) override;
  absl::StatusOr<LogPosition> Resume(LogPosition token) override;

 private:
  ConnectionPool& pool_;
};

}  // namespace booking::storage
