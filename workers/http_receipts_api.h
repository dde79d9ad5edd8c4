#pragma once

#include <string>

#include "workers/http_client.h"
#include "workers/receipts_api.h"

namespace booking::workers {

// The receipts service: `PUT {base_url}/receipts` with
// {"ticket_id", "price": {"money_amount", "money_currency"}, "idempotency_key"}; 200 (existed) and
// 201 (made) are success. Sends Correlation-ID and Idempotency-Key headers too.
class HttpReceiptsApi final : public ReceiptsApi {
 public:
  HttpReceiptsApi(HttpClient& client, std::string base_url);

  absl::Status Issue(absl::Span<const storage::ReceiptRecord> receipts) override;

 private:
  absl::Status IssueOne(const storage::ReceiptRecord& receipt);

  HttpClient& client_;
  const std::string url_;
};

}  // namespace booking::workers
