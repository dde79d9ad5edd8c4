#pragma once

#include <vector>

#include "storage/connection_pool.h"
#include "storage/receipt_repository.h"

namespace booking::storage {

class PgReceiptRepository final : public ReceiptRepository {
 public:
  static std::vector<PreparedStatement> Statements();

  explicit PgReceiptRepository(ConnectionPool& pool) : pool_(pool) {}

  absl::Status IssueAll(absl::Span<const domain::ReceiptRequest> receipts) override;

 private:
  ConnectionPool& pool_;
};

}  // namespace booking::storage
