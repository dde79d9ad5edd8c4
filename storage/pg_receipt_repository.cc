#include "storage/pg_receipt_repository.h"

#include <pqxx/pqxx>

#include "absl/container/flat_hash_map.h"
#include "storage/pg_array.h"

namespace booking::storage {
namespace {
constexpr char kIssue[] = "receipts_issue";
constexpr char kNumbers[] = "receipts_numbers";
}  // namespace

std::vector<PreparedStatement> PgReceiptRepository::Statements() {
  return {{kIssue,
           "INSERT INTO receipts (idempotency_key, ticket_id, price_amount, price_currency,"
           " correlation_id)"
           " SELECT * FROM UNNEST($1::text[], $2::uuid[], $3::numeric[], $4::bpchar[], $5::text[])"
           " ON CONFLICT (idempotency_key) DO NOTHING"
           " RETURNING idempotency_key, receipt_number"},
          // Receipts issued before (a redelivery): the insert returns only new ones.
          {kNumbers,
           "SELECT idempotency_key, receipt_number FROM receipts"
           " WHERE idempotency_key = ANY($1::text[])"}};
}

absl::Status PgReceiptRepository::IssueAll(absl::Span<const domain::ReceiptRequest> receipts) {
  if (receipts.empty()) return absl::OkStatus();
  const std::string keys =
      ToPgArrayLiteral(receipts, [](const domain::ReceiptRequest& r) { return r.idempotency_key; });
  const std::string tickets =
      ToPgArrayLiteral(receipts, [](const domain::ReceiptRequest& r) { return r.ticket_id; });
  const std::string amounts =
      ToPgArrayLiteral(receipts, [](const domain::ReceiptRequest& r) { return r.price_amount; });
  const std::string currencies =
      ToPgArrayLiteral(receipts, [](const domain::ReceiptRequest& r) { return r.price_currency; });
  const std::string correlations =
      ToPgArrayLiteral(receipts, [](const domain::ReceiptRequest& r) { return r.correlation_id; });
  return pool_.Run([&](pqxx::transaction_base& txn) {
    absl::flat_hash_map<std::string, std::string> numbers;
    for (const auto& row :
         txn.exec_prepared(kIssue, keys, tickets, amounts, currencies, correlations)) {
      numbers[row[0].as<std::string>()] = row[1].as<std::string>();
    }
    if (numbers.size() < receipts.size()) {
      for (const auto& row : txn.exec_prepared(kNumbers, keys)) {
        numbers[row[0].as<std::string>()] = row[1].as<std::string>();
      }
    }
    for (const domain::ReceiptRequest& receipt : receipts) {
      if (receipt.number == nullptr) continue;
      auto it = numbers.find(receipt.idempotency_key);
      if (it != numbers.end()) *receipt.number = it->second;
    }
  });
}

}  // namespace booking::storage
