#pragma once

#include <string>

#include "clients/call_pool.h"
#include "clients/http_client.h"
#include "clients/receipts_api.h"

namespace booking::clients {

// The receipts service: `PUT {base_url}/receipts` with
// {"ticket_id", "price": {"money_amount", "money_currency"}, "idempotency_key"}; 200 (existed) and
// 201 (made) are success. Sends Correlation-ID and Idempotency-Key headers too.
class HttpReceiptsApi final : public ReceiptsApi {
 public:
  // Calls run on `calls` (many in flight), or one after another on the caller's thread if null.
  HttpReceiptsApi(HttpClient& client, std::string base_url, CallPool* calls = nullptr);

  absl::Status Issue(absl::Span<const domain::ReceiptRequest> receipts) override;
  void IssueEach(absl::Span<const domain::ReceiptRequest> receipts,
                 absl::Span<absl::Status> results) override;
  bool reports_each() const override { return true; }

 private:
  absl::Status IssueOne(const domain::ReceiptRequest& receipt);

  HttpClient& client_;
  const std::string url_;
  CallPool* const calls_;
};

}  // namespace booking::clients
