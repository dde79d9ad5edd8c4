#pragma once

#include <string>

namespace booking::domain {

// A receipt to issue; one per idempotency key.
struct ReceiptRequest {
  std::string idempotency_key;
  std::string ticket_id;
  std::string price_amount;
  std::string price_currency;
  std::string correlation_id;
  std::string* number = nullptr;  // set: where the receipt's number is written once issued
};

}  // namespace booking::domain
