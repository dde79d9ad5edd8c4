#include "storage/pg_tracker_repository.h"

#include <pqxx/pqxx>

#include "storage/pg_array.h"

namespace booking::storage {
namespace {
constexpr char kAppend[] = "tracker_rows_append";
}  // namespace

std::vector<PreparedStatement> PgTrackerRepository::Statements() {
  return {{kAppend,
           "INSERT INTO tracker_rows (sheet, event_id, ticket_id, customer_email, price_amount,"
           " price_currency, correlation_id)"
           " SELECT $1, * FROM UNNEST($2::uuid[], $3::uuid[], $4::varchar[], $5::numeric[],"
           " $6::bpchar[], $7::text[])"
           " ON CONFLICT (sheet, event_id) DO NOTHING"}};
}

absl::Status PgTrackerRepository::AppendAll(std::string_view sheet,
                                            absl::Span<const domain::TrackerRow> rows) {
  if (rows.empty()) return absl::OkStatus();
  using Row = domain::TrackerRow;
  const std::string events = ToPgArrayLiteral(rows, [](const Row& r) { return r.event_id; });
  const std::string tickets = ToPgArrayLiteral(rows, [](const Row& r) { return r.ticket_id; });
  const std::string emails = ToPgArrayLiteral(rows, [](const Row& r) { return r.customer_email; });
  const std::string amounts = ToPgArrayLiteral(rows, [](const Row& r) { return r.price_amount; });
  const std::string currencies =
      ToPgArrayLiteral(rows, [](const Row& r) { return r.price_currency; });
  const std::string correlations =
      ToPgArrayLiteral(rows, [](const Row& r) { return r.correlation_id; });
  return pool_.Run([&](pqxx::transaction_base& txn) {
    txn.exec_prepared0(kAppend, std::string(sheet), events, tickets, emails, amounts, currencies,
                       correlations);
  });
}

}  // namespace booking::storage
