#include "storage/pg_receipt_repository.h"

#include <pqxx/pqxx>

#include "storage/pg_array.h"

namespace booking::storage {
namespace {
constexpr char kIssue[] = "receipts_issue";
}  // namespace

std::vector<PreparedStatement> PgReceiptRepository::Statements() {
  return {{kIssue,
           "INSERT INTO receipts (idempotency_key, ticket_id, price_amount, price_currency,"
           " correlation_id)"
           " SELECT * FROM UNNEST($1::text[], $2::uuid[], $3::numeric[], $4::bpchar[], $5::text[])"
           " ON CONFLICT (idempotency_key) DO NOTHING"}};
}

absl::Status PgReceiptRepository::IssueAll(absl::Span<const ReceiptRecord> receipts) {
  if (receipts.empty()) return absl::OkStatus();
  const std::string keys =
      ToPgArrayLiteral(receipts, [](const ReceiptRecord& r) { return r.idempotency_key; });
  const std::string tickets =
      ToPgArrayLiteral(receipts, [](const ReceiptRecord& r) { return r.ticket_id; });
  const std::string amounts =
      ToPgArrayLiteral(receipts, [](const ReceiptRecord& r) { return r.price_amount; });
  const std::string currencies =
      ToPgArrayLiteral(receipts, [](const ReceiptRecord& r) { return r.price_currency; });
  const std::string correlations =
      ToPgArrayLiteral(receipts, [](const ReceiptRecord& r) { return r.correlation_id; });
  return pool_.Run([&](pqxx::transaction_base& txn) {
    txn.exec_prepared0(kIssue, keys, tickets, amounts, currencies, correlations);
  });
}

}  // namespace booking::storage
