#pragma once

#include <string>

#include "workers/http_client.h"
#include "workers/spreadsheets_api.h"

namespace booking::workers {

// The spreadsheets service: `POST {base_url}/sheets/{sheet}/rows` with
// {"columns": [ticket_id, customer_email, amount, currency]}; any 2xx is success. Sends
// Correlation-ID, and Idempotency-Key (sheet/event id) for services that honour it.
class HttpSpreadsheetsApi final : public SpreadsheetsApi {
 public:
  HttpSpreadsheetsApi(HttpClient& client, std::string base_url);

  absl::Status Append(std::string_view sheet,
                      absl::Span<const storage::TrackerRowRecord> rows) override;

 private:
  HttpClient& client_;
  const std::string base_url_;
};

}  // namespace booking::workers
