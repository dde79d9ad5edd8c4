#pragma once

#include <string>

#include "clients/call_pool.h"
#include "clients/http_client.h"
#include "clients/spreadsheets_api.h"

namespace booking::clients {

// The spreadsheets service: `POST {base_url}/sheets/{sheet}/rows` with
// {"columns": [ticket_id, customer_email, amount, currency]}; any 2xx is success. Sends
// Correlation-ID, and Idempotency-Key (sheet/event id) for services that honour it.
class HttpSpreadsheetsApi final : public SpreadsheetsApi {
 public:
  // Calls run on `calls` (many in flight), or one after another on the caller's thread if null.
  HttpSpreadsheetsApi(HttpClient& client, std::string base_url, CallPool* calls = nullptr);

  absl::Status Append(std::string_view sheet, absl::Span<const domain::TrackerRow> rows) override;
  void AppendEach(std::string_view sheet, absl::Span<const domain::TrackerRow> rows,
                  absl::Span<absl::Status> results) override;
  bool reports_each() const override { return true; }

 private:
  absl::Status AppendOne(std::string_view sheet, const domain::TrackerRow& row);

  HttpClient& client_;
  const std::string base_url_;
  CallPool* const calls_;
};

}  // namespace booking::clients
