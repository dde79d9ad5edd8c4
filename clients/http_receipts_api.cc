#include "clients/http_receipts_api.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log_value.h"
#include "common/safe_text.h"
#include "external/v1/receipts.pb.h"
#include "spdlog/spdlog.h"

namespace booking::clients {
namespace {

constexpr size_t kMaxReceiptNumberBytes = 128;

}  // namespace

HttpReceiptsApi::HttpReceiptsApi(HttpClient& client, std::string base_url)
    : client_(client), url_(absl::StrCat(absl::StripSuffix(base_url, "/"), "/receipts")) {}

void HttpReceiptsApi::IssueEach(absl::Span<const domain::ReceiptRequest> receipts,
                                absl::Span<absl::Status> results) {
  SendEach(
      client_, receipts, results,
      [this](const domain::ReceiptRequest& receipt) { return Request(receipt); },
      [this](const domain::ReceiptRequest& receipt, const absl::StatusOr<HttpResponse>& response) {
        return Receive(receipt, response);
      });
}

absl::Status HttpReceiptsApi::Issue(absl::Span<const domain::ReceiptRequest> receipts) {
  for (const domain::ReceiptRequest& receipt : receipts) {
    absl::StatusOr<HttpRequest> request = Request(receipt);
    if (!request.ok()) return request.status();
    if (absl::Status status = Receive(receipt, client_.Send(*request)); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<HttpRequest> HttpReceiptsApi::Request(const domain::ReceiptRequest& receipt) const {
  external::v1::IssueReceiptRequest body;
  body.set_ticket_id(receipt.ticket_id);
  body.mutable_price()->set_money_amount(receipt.price_amount);
  body.mutable_price()->set_money_currency(receipt.price_currency);
  body.set_idempotency_key(receipt.idempotency_key);
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  HttpRequest request{"PUT",
                      url_,
                      {{"Content-Type", "application/json"},
                       {"Correlation-ID", receipt.correlation_id},
                       {"Idempotency-Key", receipt.idempotency_key}},
                      "",
                      "receipts"};
  // Not retryable: the same event would fail the same way (a field that is not UTF-8).
  if (const auto printed = google::protobuf::util::MessageToJsonString(body, &request.body, print);
      !printed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("receipt body not printable as JSON: ", printed.message().as_string()));
  }
  return request;
}

absl::Status HttpReceiptsApi::Receive(const domain::ReceiptRequest& receipt,
                                      const absl::StatusOr<HttpResponse>& response) const {
  if (!response.ok()) return response.status();
  if (absl::Status status = StatusFromHttp(*response, "receipts API"); !status.ok()) {
    return status;
  }
  external::v1::IssueReceiptResponse answer;
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = true;
  // The receipt exists either way; an answer we cannot read is logged, not retried.
  if (!google::protobuf::util::JsonStringToMessage(response->body, &answer, parse).ok()) {
    spdlog::warn("receipt answer unreadable ticket_id={} correlation_id={} http_status={}",
                 receipt.ticket_id, receipt.correlation_id, response->status);
  }
  // The number is the API's text: it is stored (the watchers' RECEIPT_ISSUED step), so bounded.
  const std::string number = common::SafeText(answer.number(), kMaxReceiptNumberBytes);
  if (receipt.number != nullptr) *receipt.number = number;
  spdlog::info("receipt issued ticket_id={} correlation_id={} number={} issued_at={} existed={}",
               receipt.ticket_id, receipt.correlation_id, common::LogValue(number),
               common::LogValue(answer.issued_at()), response->status == 200);
  return absl::OkStatus();
}

}  // namespace booking::clients
