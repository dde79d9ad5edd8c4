#include "storage/pg_event_store.h"

#include <pqxx/pqxx>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "storage/pg_array.h"

namespace booking::storage {
namespace {

constexpr char kAppend[] = "events_append";
constexpr char kClaim[] = "deliveries_claim";
constexpr char kDone[] = "deliveries_done";
constexpr char kRetry[] = "deliveries_retry";
constexpr char kDead[] = "deliveries_dead";
constexpr char kRelease[] = "deliveries_release";
constexpr char kListDead[] = "dead_letters_list";
constexpr char kRetryDead[] = "dead_letters_retry";
constexpr char kPending[] = "deliveries_pending";
constexpr char kPrune[] = "events_prune";

constexpr char kEventColumns[] =
    "e.event_id::text, e.event_type, e.ticket_id::text, e.idempotency_key, e.correlation_id,"
    " encode(e.payload, 'base64'), e.sequence";

std::string Interval(absl::Duration duration) {
  return absl::StrCat(absl::ToInt64Milliseconds(duration), " milliseconds");
}

// Reads kEventColumns starting at `first`.
EventRecord EventFromRow(const pqxx::row& row, int first) {
  EventRecord event;
  event.event_id = row[first].as<std::string>();
  event.event_type = row[first + 1].as<std::string>();
  event.ticket_id = row[first + 2].as<std::string>();
  event.idempotency_key = row[first + 3].as<std::string>();
  event.correlation_id = row[first + 4].as<std::string>();
  // encode(…, 'base64') wraps lines every 76 characters.
  std::string base64 = row[first + 5].as<std::string>();
  base64.erase(std::remove(base64.begin(), base64.end(), '\n'), base64.end());
  absl::Base64Unescape(base64, &event.payload);
  event.sequence = row[first + 6].as<int64_t>();
  return event;
}

template <typename T, typename Fn>
std::string Array(absl::Span<const T> items, Fn&& field) {
  return ToPgArrayLiteral(items, std::forward<Fn>(field));
}

}  // namespace

std::vector<PreparedStatement> PgEventStore::Statements() {
  return {
      {kAppend,
       "WITH new_events AS ("
       "  INSERT INTO events (event_id, event_type, ticket_id, idempotency_key, correlation_id,"
       "                      payload)"
       "  SELECT e.event_id, e.event_type, e.ticket_id, e.idempotency_key, e.correlation_id,"
       "         decode(e.payload, 'base64')"
       "  FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[])"
       "       WITH ORDINALITY AS e(event_id, event_type, ticket_id, idempotency_key,"
       "                            correlation_id, payload, position)"
       "  ORDER BY e.position"
       "  ON CONFLICT (idempotency_key) DO NOTHING"
       "  RETURNING sequence, event_id, event_type"
       "), new_deliveries AS ("
       "  INSERT INTO deliveries (sequence, handler, lease_owner, lease_until)"
       "  SELECT n.sequence, r.handler, NULLIF($9, ''), now() + $10::interval"
       "  FROM new_events n JOIN UNNEST($7::text[], $8::text[]) AS r(event_type, handler)"
       "       ON r.event_type = n.event_type"
       ") SELECT event_id::text, sequence FROM new_events ORDER BY sequence"},
      {kClaim,
       absl::StrCat("WITH due AS ("
                    "  SELECT sequence, handler FROM deliveries WHERE lease_until <= now()"
                    "  ORDER BY lease_until LIMIT $3 FOR UPDATE SKIP LOCKED"
                    ") UPDATE deliveries d SET lease_owner = $1, lease_until = now() + $2::interval"
                    " FROM due, events e"
                    " WHERE d.sequence = due.sequence AND d.handler = due.handler"
                    "   AND e.sequence = d.sequence"
                    " RETURNING d.handler, d.attempts, ",
                    kEventColumns)},
      {kDone,
       "DELETE FROM deliveries d USING UNNEST($1::bigint[], $2::text[]) AS x(sequence, handler)"
       " WHERE d.sequence = x.sequence AND d.handler = x.handler"},
      {kRetry,
       "UPDATE deliveries d SET attempts = d.attempts + 1, lease_owner = NULL,"
       " lease_until = to_timestamp(x.retry_at_us / 1000000.0), last_error = x.error"
       " FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::text[])"
       "      AS x(sequence, handler, retry_at_us, error)"
       " WHERE d.sequence = x.sequence AND d.handler = x.handler"},
      {kDead,
       "WITH moved AS ("
       "  DELETE FROM deliveries d"
       "  USING UNNEST($1::bigint[], $2::text[], $3::text[]) AS x(sequence, handler, reason)"
       "  WHERE d.sequence = x.sequence AND d.handler = x.handler"
       "  RETURNING d.sequence, d.handler, d.attempts + 1 AS attempts, x.reason"
       ") INSERT INTO dead_letters (sequence, handler, attempts, reason)"
       " SELECT sequence, handler, attempts, reason FROM moved"
       " ON CONFLICT (sequence, handler) DO UPDATE SET attempts = EXCLUDED.attempts,"
       " reason = EXCLUDED.reason, failed_at = now()"},
      {kRelease,
       "UPDATE deliveries d SET lease_owner = NULL, lease_until = now()"
       " FROM UNNEST($1::bigint[], $2::text[]) AS x(sequence, handler)"
       " WHERE d.sequence = x.sequence AND d.handler = x.handler"},
      {kListDead, absl::StrCat("SELECT dl.handler, dl.attempts, dl.reason,"
                               " (extract(epoch FROM dl.failed_at) * 1000000)::bigint, ",
                               kEventColumns,
                               " FROM dead_letters dl JOIN events e ON e.sequence = dl.sequence"
                               " ORDER BY dl.failed_at, dl.sequence LIMIT $1")},
      {kRetryDead,
       "WITH moved AS ("
       "  DELETE FROM dead_letters dl"
       "  WHERE $3 OR (dl.sequence, dl.handler) IN"
       "        (SELECT * FROM UNNEST($1::bigint[], $2::text[]))"
       "  RETURNING dl.sequence, dl.handler"
       ") INSERT INTO deliveries (sequence, handler) SELECT sequence, handler FROM moved"
       " ON CONFLICT (sequence, handler) DO NOTHING RETURNING sequence"},
      {kPending, "SELECT count(*) FROM deliveries"},
      // Oldest first along the primary key, so each batch reads little beyond what it deletes.
      {kPrune,
       "DELETE FROM events WHERE sequence IN ("
       "  SELECT e.sequence FROM events e"
       "  WHERE e.published_at < now() - $1::interval"
       "    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.sequence = e.sequence)"
       "    AND NOT EXISTS (SELECT 1 FROM dead_letters dl WHERE dl.sequence = e.sequence)"
       "  ORDER BY e.sequence LIMIT $2)"},
  };
}

absl::StatusOr<std::vector<EventRecord>> PgEventStore::Append(absl::Span<const EventRecord> events,
                                                              absl::Span<const Route> routes,
                                                              const std::string& owner,
                                                              absl::Duration lease) {
  std::vector<EventRecord> appended;
  if (events.empty()) return appended;
  std::vector<std::string> payloads;
  payloads.reserve(events.size());
  for (const EventRecord& event : events) payloads.push_back(absl::Base64Escape(event.payload));
  const std::string ids = Array(events, [](const EventRecord& e) { return e.event_id; });
  const std::string types = Array(events, [](const EventRecord& e) { return e.event_type; });
  const std::string tickets = Array(events, [](const EventRecord& e) { return e.ticket_id; });
  const std::string keys = Array(events, [](const EventRecord& e) { return e.idempotency_key; });
  const std::string correlations =
      Array(events, [](const EventRecord& e) { return e.correlation_id; });
  const std::string payload_array =
      Array(absl::Span<const std::string>(payloads), [](const std::string& p) { return p; });
  const std::string route_types = Array(routes, [](const Route& r) { return r.event_type; });
  const std::string route_handlers = Array(routes, [](const Route& r) { return r.handler; });

  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    appended.clear();
    pqxx::result result =
        txn.exec_prepared(kAppend, ids, types, tickets, keys, correlations, payload_array,
                          route_types, route_handlers, owner, Interval(lease));
    appended.reserve(result.size());
    for (const auto& row : result) {
      EventRecord record;
      record.event_id = row[0].as<std::string>();
      record.sequence = row[1].as<int64_t>();
      appended.push_back(std::move(record));
    }
  });
  if (!status.ok()) return status;
  // Fill in the rest from the input, matched by event id.
  for (EventRecord& record : appended) {
    for (const EventRecord& event : events) {
      if (event.event_id == record.event_id) {
        const int64_t sequence = record.sequence;
        record = event;
        record.sequence = sequence;
        break;
      }
    }
  }
  return appended;
}

absl::StatusOr<std::vector<DeliveryRecord>> PgEventStore::ClaimDue(const std::string& owner,
                                                                   absl::Duration lease,
                                                                   int limit) {
  std::vector<DeliveryRecord> claimed;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    claimed.clear();
    pqxx::result result = txn.exec_prepared(kClaim, owner, Interval(lease), limit);
    claimed.reserve(result.size());
    for (const auto& row : result) {
      DeliveryRecord delivery;
      delivery.handler = row[0].as<std::string>();
      delivery.attempts = row[1].as<int>();
      delivery.event = EventFromRow(row, 2);
      claimed.push_back(std::move(delivery));
    }
  });
  if (!status.ok()) return status;
  std::sort(claimed.begin(), claimed.end(),
            [](const auto& a, const auto& b) { return a.event.sequence < b.event.sequence; });
  return claimed;
}

absl::Status PgEventStore::Record(absl::Span<const DeliveryOutcome> outcomes) {
  std::vector<const DeliveryOutcome*> done, retry, dead, release;
  for (const DeliveryOutcome& outcome : outcomes) {
    switch (outcome.kind) {
      case DeliveryOutcome::Kind::kDone:
        done.push_back(&outcome);
        break;
      case DeliveryOutcome::Kind::kRetry:
        retry.push_back(&outcome);
        break;
      case DeliveryOutcome::Kind::kDeadLetter:
        dead.push_back(&outcome);
        break;
      case DeliveryOutcome::Kind::kRelease:
        release.push_back(&outcome);
        break;
    }
  }
  using Ptrs = absl::Span<const DeliveryOutcome* const>;
  auto sequences = [](Ptrs items) {
    return Array(items, [](const DeliveryOutcome* o) { return std::to_string(o->sequence); });
  };
  auto handlers = [](Ptrs items) {
    return Array(items, [](const DeliveryOutcome* o) { return o->handler; });
  };
  auto errors = [](Ptrs items) {
    return Array(items, [](const DeliveryOutcome* o) { return o->error.substr(0, 2000); });
  };
  // The usual batch is all successes: one statement, no transaction needed around it.
  const int kinds = !done.empty() + !retry.empty() + !dead.empty() + !release.empty();
  auto record = [&](pqxx::transaction_base& txn) {
    if (!done.empty()) txn.exec_prepared0(kDone, sequences(done), handlers(done));
    if (!retry.empty()) {
      const std::string retry_at = Array(Ptrs(retry), [](const DeliveryOutcome* o) {
        return std::to_string(absl::ToUnixMicros(o->retry_at));
      });
      txn.exec_prepared0(kRetry, sequences(retry), handlers(retry), retry_at, errors(retry));
    }
    if (!dead.empty()) txn.exec_prepared0(kDead, sequences(dead), handlers(dead), errors(dead));
    if (!release.empty()) txn.exec_prepared0(kRelease, sequences(release), handlers(release));
  };
  return kinds == 1 ? pool_.Run(record) : pool_.Transact(record);
}

absl::StatusOr<std::vector<DeadLetterRecord>> PgEventStore::ListDeadLetters(int limit) {
  std::vector<DeadLetterRecord> letters;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    letters.clear();
    for (const auto& row : txn.exec_prepared(kListDead, limit)) {
      DeadLetterRecord letter;
      letter.handler = row[0].as<std::string>();
      letter.attempts = row[1].as<int>();
      letter.reason = row[2].as<std::string>();
      letter.failed_at = absl::FromUnixMicros(row[3].as<int64_t>());
      letter.event = EventFromRow(row, 4);
      letters.push_back(std::move(letter));
    }
  });
  if (!status.ok()) return status;
  return letters;
}

absl::StatusOr<int> PgEventStore::RetryDeadLetters(
    absl::Span<const std::pair<int64_t, std::string>> ids, bool all) {
  using Id = std::pair<int64_t, std::string>;
  const std::string sequences = Array(ids, [](const Id& id) { return std::to_string(id.first); });
  const std::string handlers = Array(ids, [](const Id& id) { return id.second; });
  int count = 0;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    count = static_cast<int>(txn.exec_prepared(kRetryDead, sequences, handlers, all).size());
  });
  if (!status.ok()) return status;
  return count;
}

absl::StatusOr<int> PgEventStore::PruneFinished(absl::Duration older_than, int limit) {
  int count = 0;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    count =
        static_cast<int>(txn.exec_prepared(kPrune, Interval(older_than), limit).affected_rows());
  });
  if (!status.ok()) return status;
  return count;
}

absl::StatusOr<int64_t> PgEventStore::CountPending() {
  int64_t count = 0;
  absl::Status status = pool_.Run(
      [&](pqxx::transaction_base& txn) { count = txn.exec_prepared1(kPending)[0].as<int64_t>(); });
  if (!status.ok()) return status;
  return count;
}

}  // namespace booking::storage
