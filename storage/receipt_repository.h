#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "domain/receipt_request.h"

namespace booking::storage {

// The local `receipts` table: the receipts API's embedded default. Thread-safe.
class ReceiptRepository {
 public:
  virtual ~ReceiptRepository() = default;

  // Issues a receipt (number and time given by the database) for every record whose idempotency
  // key has none yet, in one transaction; keys that have one are left as they are.
  virtual absl::Status IssueAll(absl::Span<const domain::ReceiptRequest> receipts) = 0;
};

}  // namespace booking::storage
