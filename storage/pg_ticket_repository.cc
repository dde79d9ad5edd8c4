#include "storage/pg_ticket_repository.h"

#include <optional>
#include <pqxx/pqxx>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "storage/pg_array.h"

namespace booking::storage {
namespace {

constexpr char kUpsert[] = "tickets_upsert";
constexpr char kGet[] = "tickets_get";
constexpr char kListFirst[] = "tickets_list_first";
constexpr char kListAfter[] = "tickets_list_after";
constexpr char kMaxSequence[] = "tickets_max_sequence";

constexpr char kColumns[] =
    "ticket_id::text, customer_email, price_amount::text, price_currency::text, status,"
    " COALESCE(booking_id::text, ''), last_event_sequence,"
    " (extract(epoch FROM updated_at) * 1000000)::bigint";

domain::Ticket FromRow(const pqxx::row& row) {
  domain::Ticket record;
  record.ticket_id = row[0].as<std::string>();
  record.customer_email = row[1].as<std::string>();
  record.price_amount = row[2].as<std::string>();
  record.price_currency = row[3].as<std::string>();
  record.status = row[4].as<std::string>();
  record.booking_id = row[5].as<std::string>();
  record.last_event_sequence = row[6].as<int64_t>();
  record.updated_at = absl::FromUnixMicros(row[7].as<int64_t>());
  return record;
}

}  // namespace

std::vector<PreparedStatement> PgTicketRepository::Statements() {
  return {
      {kUpsert,
       "INSERT INTO tickets (ticket_id, customer_email, price_amount, price_currency, status,"
       " booking_id, last_event_sequence)"
       " SELECT * FROM UNNEST($1::uuid[], $2::varchar[], $3::numeric[], $4::bpchar[],"
       " $5::text[], $6::uuid[], $7::bigint[])"
       " ON CONFLICT (ticket_id) DO UPDATE SET"
       " customer_email = EXCLUDED.customer_email, price_amount = EXCLUDED.price_amount,"
       " price_currency = EXCLUDED.price_currency, status = EXCLUDED.status,"
       " booking_id = EXCLUDED.booking_id, last_event_sequence = EXCLUDED.last_event_sequence,"
       " updated_at = now()"
       " WHERE tickets.last_event_sequence < EXCLUDED.last_event_sequence"},
      {kGet, absl::StrCat("SELECT ", kColumns, " FROM tickets WHERE ticket_id = $1::uuid")},
      {kListFirst, absl::StrCat("SELECT ", kColumns,
                                " FROM tickets WHERE status <> 'canceled'"
                                " ORDER BY tickets.ticket_id LIMIT $1")},
      {kListAfter, absl::StrCat("SELECT ", kColumns,
                                " FROM tickets WHERE status <> 'canceled' AND ticket_id > $1::uuid"
                                " ORDER BY tickets.ticket_id LIMIT $2")},
      {kMaxSequence, "SELECT COALESCE(MAX(last_event_sequence), 0) FROM tickets"},
  };
}

absl::Status PgTicketRepository::Upsert(absl::Span<const domain::Ticket> records) {
  if (records.empty()) return absl::OkStatus();
  // One statement cannot update a row twice: keep the newest record of each ticket.
  absl::flat_hash_map<std::string_view, const domain::Ticket*> newest;
  newest.reserve(records.size());
  for (const domain::Ticket& record : records) {
    auto [it, inserted] = newest.try_emplace(record.ticket_id, &record);
    if (!inserted && it->second->last_event_sequence < record.last_event_sequence) {
      it->second = &record;
    }
  }
  std::vector<const domain::Ticket*> rows;
  rows.reserve(newest.size());
  for (const auto& [id, record] : newest) rows.push_back(record);
  absl::Span<const domain::Ticket* const> span(rows);

  const std::string ids = ToPgArrayLiteral(span, [](auto* r) { return r->ticket_id; });
  const std::string emails = ToPgArrayLiteral(span, [](auto* r) { return r->customer_email; });
  const std::string amounts = ToPgArrayLiteral(span, [](auto* r) { return r->price_amount; });
  const std::string currencies = ToPgArrayLiteral(span, [](auto* r) { return r->price_currency; });
  const std::string statuses = ToPgArrayLiteral(span, [](auto* r) { return r->status; });
  const std::string bookings = ToPgArrayLiteral(
      span, [](auto* r) { return r->booking_id; }, /*empty_is_null=*/true);
  std::vector<std::string> sequence_texts;
  sequence_texts.reserve(rows.size());
  for (const domain::Ticket* r : rows)
    sequence_texts.push_back(std::to_string(r->last_event_sequence));
  const std::string sequences = ToPgArrayLiteral(absl::Span<const std::string>(sequence_texts),
                                                 [](const std::string& s) { return s; });

  return pool_.Run([&](pqxx::transaction_base& txn) {
    txn.exec_prepared0(kUpsert, ids, emails, amounts, currencies, statuses, bookings, sequences);
  });
}

absl::StatusOr<domain::Ticket> PgTicketRepository::Get(std::string_view ticket_id) {
  std::optional<domain::Ticket> found;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    pqxx::result result = txn.exec_prepared(kGet, std::string(ticket_id));
    if (!result.empty()) found = FromRow(result[0]);
  });
  if (!status.ok()) return status;
  if (!found)
    return absl::NotFoundError(absl::StrCat("ticket ", std::string(ticket_id), " not found"));
  return *std::move(found);
}

absl::StatusOr<std::vector<domain::Ticket>> PgTicketRepository::ListActive(
    std::string_view after_ticket_id, int limit) {
  std::vector<domain::Ticket> out;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    out.clear();
    pqxx::result result = after_ticket_id.empty()
                              ? txn.exec_prepared(kListFirst, limit)
                              : txn.exec_prepared(kListAfter, std::string(after_ticket_id), limit);
    out.reserve(result.size());
    for (const auto& row : result) out.push_back(FromRow(row));
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<int64_t> PgTicketRepository::MaxEventSequence() {
  int64_t max = 0;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    max = txn.exec_prepared1(kMaxSequence)[0].as<int64_t>();
  });
  if (!status.ok()) return status;
  return max;
}

}  // namespace booking::storage
