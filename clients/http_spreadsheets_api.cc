#include "clients/http_spreadsheets_api.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "external/v1/spreadsheets.pb.h"
#include "spdlog/spdlog.h"

namespace booking::clients {

HttpSpreadsheetsApi::HttpSpreadsheetsApi(HttpClient& client, std::string base_url)
    : client_(client), base_url_(absl::StripSuffix(base_url, "/")) {}

absl::StatusOr<HttpRequest> HttpSpreadsheetsApi::Request(std::string_view sheet,
                                                         const domain::TrackerRow& row) const {
  external::v1::AppendRowRequest body;
  body.add_columns(row.ticket_id);
  body.add_columns(row.customer_email);
  body.add_columns(row.price_amount);
  body.add_columns(row.price_currency);
  HttpRequest request{"POST",
                      absl::StrCat(base_url_, "/sheets/", std::string(sheet), "/rows"),
                      {{"Content-Type", "application/json"},
                       {"Correlation-ID", row.correlation_id},
                       {"Idempotency-Key", absl::StrCat(std::string(sheet), "/", row.event_id)}},
                      "",
                      "spreadsheets"};
  // Not retryable: the same event would fail the same way (a field that is not UTF-8).
  if (const auto printed = google::protobuf::util::MessageToJsonString(body, &request.body);
      !printed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tracker row not printable as JSON: ", printed.message().as_string()));
  }
  return request;
}

absl::Status HttpSpreadsheetsApi::Receive(std::string_view sheet, const domain::TrackerRow& row,
                                          const absl::StatusOr<HttpResponse>& response) {
  if (!response.ok()) return response.status();
  if (absl::Status status = StatusFromHttp(*response, "spreadsheets API"); !status.ok()) {
    return status;
  }
  spdlog::info("tracker row appended sheet={} ticket_id={} event_id={} correlation_id={}",
               std::string(sheet), row.ticket_id, row.event_id, row.correlation_id);
  return absl::OkStatus();
}

absl::Status HttpSpreadsheetsApi::Append(std::string_view sheet,
                                         absl::Span<const domain::TrackerRow> rows) {
  for (const domain::TrackerRow& row : rows) {
    absl::StatusOr<HttpRequest> request = Request(sheet, row);
    if (!request.ok()) return request.status();
    if (absl::Status status = Receive(sheet, row, client_.Send(*request)); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

void HttpSpreadsheetsApi::AppendEach(std::string_view sheet,
                                     absl::Span<const domain::TrackerRow> rows,
                                     absl::Span<absl::Status> results) {
  SendEach(
      client_, rows, results,
      [this, sheet](const domain::TrackerRow& row) { return Request(sheet, row); },
      [this, sheet](const domain::TrackerRow& row, const absl::StatusOr<HttpResponse>& response) {
        return Receive(sheet, row, response);
      });
}

}  // namespace booking::clients
