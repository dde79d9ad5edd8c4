#pragma once

#include <vector>

#include "storage/connection_pool.h"
#include "storage/handler_log.h"

namespace booking::storage {

// HandlerLog on PostgreSQL. A read is one statement: per held partition, the next events past
// the checkpoint (LATERAL, along the (partition, tx, sequence) index), only from transactions
// older than every one in flight (pg_snapshot_xmin), marking how far it handed events out if
// asked. A commit writes checkpoints only where owner and epoch still match, with the lease rows
// locked FOR SHARE until it commits: a claim by another instance either waits for it or wins,
// and then the stale commit changes nothing. Commits are synchronous: a step a watcher has read
// (and a resume token after it) never vanishes in a crash of PostgreSQL.
class PgHandlerLog final : public HandlerLog {
 public:
  static std::vector<PreparedStatement> Statements();

  explicit PgHandlerLog(ConnectionPool& pool) : pool_(pool) {}

  absl::StatusOr<bool> Register(const std::string& handler,
                                absl::Span<const std::string> event_types,
                                StartFrom start) override;
  absl::StatusOr<HandlerBatchRead> Read(const std::string& handler,
                                        const ReadOptions& options) override;
  absl::StatusOr<CommitResult> Commit(const std::string& handler,
                                      const HandlerProgress& progress) override;
  absl::StatusOr<std::vector<PartitionLease>> Renew(const std::string& owner,
                                                    absl::Duration lease) override;
  absl::StatusOr<int> LiveOwners() override;
  absl::StatusOr<std::vector<PartitionLease>> Claim(const std::string& owner, absl::Duration lease,
                                                    int count) override;
  absl::Status Release(const std::string& owner, absl::Span<const int> partitions,
                       bool leaving) override;
  absl::StatusOr<std::vector<HandlerBacklog>> Backlog() override;
  absl::StatusOr<std::vector<ParkedSummary>> Parked() override;

 private:
  ConnectionPool& pool_;
};

}  // namespace booking::storage
