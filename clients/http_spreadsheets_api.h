#pragma once

#include <string>

#include "clients/http_client.h"
#include "clients/spreadsheets_api.h"

namespace booking::clients {

// The spreadsheets service: `POST {base_url}/sheets/{sheet}/rows` with
// {"columns": [ticket_id, customer_email, amount, currency]}; any 2xx is success. Sends
// Correlation-ID, and Idempotency-Key (sheet/event id) for services that honour it.
class HttpSpreadsheetsApi final : public SpreadsheetsApi {
 public:
  // `client` is the spreadsheets API's own: its bound on calls in flight is the API's.
  HttpSpreadsheetsApi(HttpClient& client, std::string base_url);

  // One call after another, up to the first that fails.
  absl::Status Append(std::string_view sheet, absl::Span<const domain::TrackerRow> rows) override;
  // Every call at once on the client's event loop; the caller waits for them all.
  void AppendEach(std::string_view sheet, absl::Span<const domain::TrackerRow> rows,
                  absl::Span<absl::Status> results) override;
  bool reports_each() const override { return true; }

 private:
  [[nodiscard]] absl::StatusOr<HttpRequest> Request(std::string_view sheet,
                                                    const domain::TrackerRow& row) const;
  [[nodiscard]] static absl::Status Receive(std::string_view sheet, const domain::TrackerRow& row,
                                            const absl::StatusOr<HttpResponse>& response);

  HttpClient& client_;
  const std::string base_url_;
};

}  // namespace booking::clients
