#pragma once

#include <string>

#include "clients/http_client.h"
#include "clients/receipts_api.h"

namespace booking::clients {

// The receipts service: `PUT {base_url}/receipts` with
// {"ticket_id", "price": {"money_amount", "money_currency"}, "idempotency_key"}; 200 (existed) and
// 201 (made) are success. Sends Correlation-ID and Idempotency-Key headers too.
class HttpReceiptsApi final : public ReceiptsApi {
 public:
  // `client` is the receipts API's own: its bound on calls in flight is the API's.
  HttpReceiptsApi(HttpClient& client, std::string base_url);

  // One call after another, up to the first that fails.
  absl::Status Issue(absl::Span<const domain::ReceiptRequest> receipts) override;
  // Every call at once on the client's event loop; the caller waits for them all.
  void IssueEach(absl::Span<const domain::ReceiptRequest> receipts,
                 absl::Span<absl::Status> results) override;
  bool reports_each() const override { return true; }

 private:
  [[nodiscard]] absl::StatusOr<HttpRequest> Request(const domain::ReceiptRequest& receipt) const;
  // The receipt's status from the API's answer (and its number, if the receipt asks for it).
  [[nodiscard]] absl::Status Receive(const domain::ReceiptRequest& receipt,
                                     const absl::StatusOr<HttpResponse>& response) const;

  HttpClient& client_;
  const std::string url_;
};

}  // namespace booking::clients
