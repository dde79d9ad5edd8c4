#pragma once

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "storage/receipt_repository.h"

namespace booking::clients {

// Where receipts are issued: the receipts service over HTTP, or the local `receipts` table.
class ReceiptsApi {
 public:
  virtual ~ReceiptsApi() = default;

  // Issues one receipt per record, idempotent by the record's idempotency key. OK means all are
  // issued (or existed); otherwise the status says whether a retry can help.
  virtual absl::Status Issue(absl::Span<const domain::ReceiptRequest> receipts) = 0;

  // Issues each receipt on its own (concurrently where the API allows), one status per receipt
  // in `results`. The default issues the batch at once and gives every receipt its status.
  virtual void IssueEach(absl::Span<const domain::ReceiptRequest> receipts,
                         absl::Span<absl::Status> results) {
    const absl::Status status = Issue(receipts);
    for (absl::Status& result : results) result = status;
  }
  // True when IssueEach's statuses are each receipt's own.
  virtual bool reports_each() const { return false; }
};

// The embedded default: receipts in the local table, all of a batch in one statement.
class LocalReceiptsApi final : public ReceiptsApi {
 public:
  explicit LocalReceiptsApi(storage::ReceiptRepository& repository) : repository_(repository) {}
  absl::Status Issue(absl::Span<const domain::ReceiptRequest> receipts) override {
    return repository_.IssueAll(receipts);
  }

 private:
  storage::ReceiptRepository& repository_;
};

}  // namespace booking::clients
