#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace booking::storage {

// A receipt to issue; one per idempotency key.
struct ReceiptRecord {
  std::string idempotency_key;
  std::string ticket_id;
  std::string price_amount;
  std::string price_currency;
  std::string correlation_id;
  std::string* number = nullptr;  // set: where the receipt's number is written once issued
};

// The local `receipts` table: the receipts API's embedded default. Thread-safe.
class ReceiptRepository {
 public:
  virtual ~ReceiptRepository() = default;

  // Issues a receipt (number and time given by the database) for every record whose idempotency
  // key has none yet, in one transaction; keys that have one are left as they are.
  virtual absl::Status IssueAll(absl::Span<const ReceiptRecord> receipts) = 0;
};

}  // namespace booking::storage
