#include "storage/pg_event_store.h"

#include <pqxx/pqxx>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/call_key_digest.h"
#include "storage/pg_array.h"
#include "storage/pg_errors.h"

namespace booking::storage {
namespace {

constexpr char kAppend[] = "events_append";
constexpr char kKnownCalls[] = "idempotency_keys_known";
constexpr char kPruneKeys[] = "idempotency_keys_prune";
constexpr char kSummarize[] = "events_summarize_age";
constexpr char kListDead[] = "dead_letters_list";
constexpr char kRetryDead[] = "dead_letters_retry";
constexpr char kFindDead[] = "dead_letters_find";
constexpr char kCountDead[] = "dead_letters_count";
constexpr char kRetryMatching[] = "dead_letters_retry_matching";
constexpr char kPending[] = "pending_deliveries_count";
constexpr char kReplayHandler[] = "replay_handler_type";
constexpr char kReplayCount[] = "replay_count";
constexpr char kReplay[] = "replay_schedule";

// The events a replay picks ($1 handler, $2 its event types, $3..$4 sequences, $5..$6 times):
// those of the handler's types in the range that it has passed in its partition.
constexpr char kReplayPicked[] =
    "SELECT e.sequence FROM events e"
    " WHERE e.event_type = ANY ($2::text[]) AND e.sequence >= $3 AND ($4 = 0 OR e.sequence <= $4)"
    "   AND e.published_at >= $5::timestamptz AND e.published_at < $6::timestamptz"
    "   AND NOT EXISTS (SELECT 1 FROM handler_checkpoints c"
    "                   WHERE c.handler = $1 AND c.partition = e.partition"
    "                     AND (c.last_tx, c.last_sequence) < (e.tx, e.sequence))";

// The dead letters a DeadLetterFilter matches ($1 handler, $2..$3 failure times, $4 reason).
constexpr char kDeadMatching[] =
    "($1 = '' OR dl.handler = $1)"
    " AND dl.failed_at >= $2::timestamptz AND dl.failed_at < $3::timestamptz"
    " AND ($4 = '' OR strpos(lower(dl.reason), lower($4)) > 0)";

std::string PgTime(absl::Time time) {
  if (time == absl::InfinitePast()) return "-infinity";
  if (time == absl::InfiniteFuture()) return "infinity";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone());
}
constexpr char kPrune[] = "events_prune";
constexpr char kPruneRedeliveries[] = "events_prune_redeliveries";
constexpr char kSweepOrphans[] = "deliveries_sweep_orphans";
constexpr char kPruneSteps[] = "step_batches_prune";

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
      // The calls' keys first: a key inserted concurrently by another transaction makes this
      // insert wait for it and then skip the key, so a request is never published twice.
      {kAppend,
       "WITH calls AS ("
       "  INSERT INTO idempotency_keys (key_digest, fingerprint, accepted_events)"
       "  SELECT c.key_digest, decode(c.fingerprint, 'hex'), c.accepted_events"
       "  FROM UNNEST($7::uuid[], $8::text[], $9::int[], $11::uuid[])"
       "       AS c(key_digest, fingerprint, accepted_events, unscoped_digest)"
       // A scoped key whose unscoped form is remembered (from before keys were scoped) is that
       // call: not inserted, so its events are not appended. ($11 is empty with tokens off.)
       "  WHERE c.unscoped_digest IS NULL OR NOT EXISTS ("
       "    SELECT 1 FROM idempotency_keys u WHERE u.key_digest = c.unscoped_digest)"
       // Key order: two commits holding the same keys wait for each other, never deadlock.
       "  ORDER BY c.key_digest"
       "  ON CONFLICT (key_digest) DO NOTHING"
       "  RETURNING key_digest"
       "), appended AS ("
       "  INSERT INTO events (event_id, event_type, ticket_id, idempotency_key, correlation_id,"
       "                      payload, partition)"
       "  SELECT e.event_id, e.event_type, e.ticket_id, e.idempotency_key, e.correlation_id,"
       "         decode(e.payload, 'base64'),"
       "         (hashtextextended(e.ticket_id::text, 0) & 15)::smallint"
       "  FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[],"
       "              $10::uuid[])"
       "       WITH ORDINALITY AS e(event_id, event_type, ticket_id, idempotency_key,"
       "                            correlation_id, payload, call_digest, position)"
       // Only the events of calls whose key is new (the key's row is what dedups).
       "  WHERE e.call_digest IN (SELECT key_digest FROM calls)"
       "  ORDER BY e.position"
       "  RETURNING event_id::text, sequence, ticket_id, event_type, correlation_id"
       "), steps AS ("
       // For watchers, one row for the statement's events (a data-modifying CTE runs whether
       // or not the query reads it), at most kStepsPerBatch - 1 per row.
       "  INSERT INTO step_batches (step, event_sequences)"
       "  SELECT 'accepted', array_agg(a.sequence ORDER BY a.sequence)"
       "  FROM (SELECT sequence, (row_number() OVER (ORDER BY sequence) - 1) / 4095 AS chunk"
       "        FROM appended) a"
       "  GROUP BY a.chunk"
       "), known AS ("
       // What is remembered for the keys that were known, read by the same statement, so the
       // answer is in hand when the events commit. It sees the statement's snapshot: a key that
       // a concurrent transaction committed while the insert above waited for it is not here
       // (the caller reads it afterwards).
       "  SELECT k.key_digest, encode(substring(k.fingerprint FROM 1 FOR 16), 'hex') AS"
       "         fingerprint, k.accepted_events"
       "  FROM idempotency_keys k"
       "  WHERE k.key_digest = ANY ($7::uuid[] || $11::uuid[])"
       "    AND k.key_digest NOT IN (SELECT key_digest FROM calls)"
       ") SELECT event_id, sequence, NULL::text, NULL::text, NULL::int FROM appended"
       " UNION ALL SELECT NULL, NULL, key_digest::text, NULL, NULL FROM calls"
       " UNION ALL SELECT NULL, NULL, key_digest::text, fingerprint, accepted_events FROM known"},
      // Fingerprints are 16 bytes; a key stored by an older version has SHA-256's whole 32, of
      // which the first 16 are what a replay compares now.
      {kKnownCalls,
       "SELECT key_digest::text, encode(substring(fingerprint FROM 1 FOR 16), 'hex'),"
       " accepted_events FROM idempotency_keys WHERE key_digest = ANY ($1::uuid[])"},
      // Block ranges filled since the last summary (cheap: only those are read).
      {kSummarize,
       "SELECT brin_summarize_new_values('events_published_at_brin'),"
       " brin_summarize_new_values('step_batches_at_brin'),"
       " brin_summarize_new_values('idempotency_keys_created_at_brin')"},
      {kPruneKeys,
       "DELETE FROM idempotency_keys WHERE key_digest IN ("
       "  SELECT key_digest FROM idempotency_keys"
       "  WHERE created_at < now() - $1::interval ORDER BY created_at LIMIT $2)"},
      // count(*) OVER (): the matching rows before the LIMIT, in the same read.
      {kListDead, absl::StrCat("SELECT dl.handler, dl.attempts, dl.reason,"
                               " (extract(epoch FROM dl.failed_at) * 1000000)::bigint,"
                               " count(*) OVER (), ",
                               kEventColumns,
                               " FROM dead_letters dl JOIN events e ON e.sequence = dl.sequence"
                               " WHERE ",
                               kDeadMatching, " ORDER BY dl.failed_at, dl.sequence LIMIT $5")},
      {kCountDead, absl::StrCat("SELECT count(*) FROM dead_letters dl WHERE ", kDeadMatching)},
      {kRetryMatching, absl::StrCat("WITH moved AS ("
                                    "  DELETE FROM dead_letters dl WHERE ",
                                    kDeadMatching,
                                    "  RETURNING dl.sequence, dl.handler"
                                    ") INSERT INTO deliveries (sequence, handler, lease_until)"
                                    " SELECT sequence, handler, now() FROM moved"
                                    " ON CONFLICT (sequence, handler) DO NOTHING"
                                    " RETURNING sequence")},
      {kRetryDead,
       "WITH moved AS ("
       "  DELETE FROM dead_letters dl"
       "  WHERE (dl.sequence, dl.handler) IN (SELECT * FROM UNNEST($1::bigint[], $2::text[]))"
       "  RETURNING dl.sequence, dl.handler"
       ") INSERT INTO deliveries (sequence, handler, lease_until) SELECT sequence, handler, now()"
       " FROM moved"
       " ON CONFLICT (sequence, handler) DO NOTHING RETURNING sequence"},
      {kFindDead,
       "SELECT dl.sequence, dl.handler FROM dead_letters dl"
       " WHERE (dl.sequence, dl.handler) IN (SELECT * FROM UNNEST($1::bigint[], $2::text[]))"
       " FOR UPDATE"},
      {kReplayHandler,
       "SELECT event_type, retired_at IS NOT NULL, event_types FROM handlers WHERE handler = $1"},
      {kReplayCount, absl::StrCat("SELECT count(*) FROM (", kReplayPicked, ") p")},
      // FOR KEY SHARE: the pruner skips the events a replay is scheduling (and a replay
      // waits for a prune deleting them, then skips them), so no delivery row outlives its event.
      {kReplay, absl::StrCat("WITH picked AS (", kReplayPicked, " FOR KEY SHARE OF e",
                             "), revived AS ("
                             "  DELETE FROM dead_letters dl USING picked p"
                             "  WHERE dl.sequence = p.sequence AND dl.handler = $1"
                             ") INSERT INTO deliveries (sequence, handler, lease_until)"
                             " SELECT sequence, $1, now() FROM picked"
                             " ON CONFLICT (sequence, handler) DO NOTHING")},
      {kPending, "SELECT count(*) FROM pending_deliveries"},
      // Oldest first along the primary key, so each batch reads little beyond what it deletes.
      // SKIP LOCKED: events a replay in flight is scheduling stay (the next round takes them
      // once their redeliveries are done), and the pruner never waits for anyone. Retired
      // handlers hold nothing back: their checkpoints, redeliveries and dead letters do not
      // count, and their dead letters of the deleted events go with them (in this statement:
      // the foreign key).
      {kPrune,
       "WITH doomed AS ("
       "  SELECT e.sequence FROM events e"
       "  WHERE e.published_at < now() - $1::interval"
       "    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.sequence = e.sequence"
       "                    AND NOT EXISTS (SELECT 1 FROM handlers r WHERE r.handler = d.handler"
       "                                    AND r.retired_at IS NOT NULL))"
       "    AND NOT EXISTS (SELECT 1 FROM handler_checkpoints c JOIN handlers h USING (handler)"
       "                    WHERE c.partition = e.partition AND e.event_type = ANY (h.event_types)"
       "                      AND h.retired_at IS NULL"
       "                      AND (c.last_tx, c.last_sequence) < (e.tx, e.sequence))"
       "    AND NOT EXISTS (SELECT 1 FROM dead_letters dl WHERE dl.sequence = e.sequence"
       "                    AND NOT EXISTS (SELECT 1 FROM handlers r WHERE r.handler = dl.handler"
       "                                    AND r.retired_at IS NOT NULL))"
       "  ORDER BY e.sequence LIMIT $2 FOR UPDATE OF e SKIP LOCKED"
       "), letters AS ("
       "  DELETE FROM dead_letters dl USING doomed d WHERE dl.sequence = d.sequence"
       ") DELETE FROM events e USING doomed d WHERE e.sequence = d.sequence"
       " RETURNING e.sequence"},
      // In the prune's transaction, as a statement of its own: its snapshot is taken after the
      // delete, so it also sees a delivery that a replay committed after the delete's snapshot.
      // (Dead letters need nothing of the kind: their foreign key makes a prune and a dead
      // letter of the same event wait for each other, and one of them fail.)
      {kPruneRedeliveries, "DELETE FROM deliveries WHERE sequence = ANY ($1::bigint[])"},
      // Rows whose event is gone: nobody can claim them, yet they would count as lag for ever
      // (left by the race before the two statements above, or by an older version).
      {kSweepOrphans,
       "DELETE FROM deliveries d"
       " WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.sequence = d.sequence)"},
      {kPruneSteps,
       "DELETE FROM step_batches WHERE (tx, batch_sequence) IN ("
       "  SELECT tx, batch_sequence FROM step_batches WHERE at < now() - $1::interval"
       "  LIMIT $2)"},
  };
}

absl::StatusOr<AppendOutcome> PgEventStore::Append(absl::Span<const CallRecord> calls,
                                                   absl::Span<const EventRecord> events,
                                                   absl::Span<const int> call_of) {
  AppendOutcome outcome;
  outcome.known.resize(calls.size());
  outcome.unanswered.resize(calls.size());
  if (events.empty() && calls.empty()) return outcome;
  // Events of no call are each their own call, under their own key: a key's row is what keeps
  // events from being published twice. (The service always names a call.) Keys' rows are found
  // by digest (call_key_digest.h), and the statement's answer names digests.
  std::vector<CallRecord> all_calls(calls.begin(), calls.end());
  std::vector<std::string> digests;  // per call of all_calls
  digests.reserve(all_calls.size());
  for (const CallRecord& call : calls) digests.push_back(CallKeyDigest(call.idempotency_key));
  // Scoped keys' unscoped forms, per call ("" for none: NULL), and which keys each names.
  std::vector<std::string> unscoped_digests;
  absl::flat_hash_map<std::string, std::vector<std::string>> keys_of_unscoped;
  for (const CallRecord& call : calls) {
    if (call.unscoped_key.empty()) {
      unscoped_digests.emplace_back();
      continue;
    }
    unscoped_digests.push_back(CallKeyDigest(call.unscoped_key));
    keys_of_unscoped[unscoped_digests.back()].push_back(call.idempotency_key);
  }
  if (keys_of_unscoped.empty()) unscoped_digests.clear();
  std::vector<EventRecord> sent;
  std::vector<std::string> event_digests;  // per sent event: its call's digest
  sent.reserve(events.size());
  event_digests.reserve(events.size());
  absl::flat_hash_set<std::string> own_keys;
  for (size_t i = 0; i < events.size(); ++i) {
    const int call = i < call_of.size() ? call_of[i] : -1;
    if (call >= 0) {
      event_digests.push_back(digests[call]);
    } else if (own_keys.insert(events[i].idempotency_key).second) {
      all_calls.push_back({events[i].idempotency_key, "", 1, ""});
      digests.push_back(CallKeyDigest(events[i].idempotency_key));
      event_digests.push_back(digests.back());
    } else {
      continue;  // the same key twice in one append: once
    }
    sent.push_back(events[i]);
  }
  absl::flat_hash_map<std::string, std::string> key_of_digest;
  for (size_t i = 0; i < all_calls.size(); ++i) {
    key_of_digest.emplace(digests[i], all_calls[i].idempotency_key);
  }
  const absl::Span<const CallRecord> keyed(all_calls);
  std::vector<std::string> fingerprints;
  fingerprints.reserve(keyed.size());
  for (const CallRecord& call : keyed) {
    fingerprints.push_back(absl::BytesToHexString(call.fingerprint));
  }
  auto same = [](const std::string& text) { return text; };
  const std::string keys_of_calls = Array(absl::Span<const std::string>(digests), same);
  const std::string fingerprint_array = Array(absl::Span<const std::string>(fingerprints), same);
  const std::string answers =
      Array(keyed, [](const CallRecord& c) { return std::to_string(c.accepted_events); });
  const std::string event_calls = Array(absl::Span<const std::string>(event_digests), same);
  const std::string unscoped_array =
      ToPgArrayLiteral(absl::Span<const std::string>(unscoped_digests), same, true);

  std::vector<EventRecord>& appended = outcome.appended;
  const absl::Span<const EventRecord> rows(sent);
  std::vector<std::string> payloads;
  payloads.reserve(rows.size());
  for (const EventRecord& event : rows) payloads.push_back(absl::Base64Escape(event.payload));
  const std::string ids = Array(rows, [](const EventRecord& e) { return e.event_id; });
  const std::string types = Array(rows, [](const EventRecord& e) { return e.event_type; });
  const std::string tickets = Array(rows, [](const EventRecord& e) { return e.ticket_id; });
  const std::string keys = Array(rows, [](const EventRecord& e) { return e.idempotency_key; });
  const std::string correlations =
      Array(rows, [](const EventRecord& e) { return e.correlation_id; });
  const std::string payload_array =
      Array(absl::Span<const std::string>(payloads), [](const std::string& p) { return p; });

  // Autocommit: the statement is committed once it returns, so only the result is kept in the
  // lambda; everything after it happens to committed events.
  pqxx::result result;
  auto append = [&](pqxx::transaction_base& txn) {
    result =
        txn.exec_prepared(kAppend, ids, types, tickets, keys, correlations, payload_array,
                          keys_of_calls, fingerprint_array, answers, event_calls, unscoped_array);
  };
  absl::Status status = pool_.Run(append);
  // Rolled back (a deadlock with rows outside the key order, a serialization failure): nothing
  // was written, so once more before failing anyone's call.
  if (absl::IsAborted(status)) status = pool_.Run(append);
  if (!status.ok()) return status;
  if (hooks_.after_append) hooks_.after_append();

  absl::flat_hash_map<std::string, int64_t> sequences;
  absl::flat_hash_set<std::string> new_calls;
  absl::flat_hash_map<std::string, CallRecord> remembered;
  // A row found by a call's own digest is its answer; one found by an unscoped digest is, unless
  // the call's own row was found too.
  auto remember = [&](const std::string& digest, const std::string& fingerprint, int answer) {
    const auto record = [&](const std::string& key) {
      return CallRecord{key, absl::HexStringToBytes(fingerprint), answer, ""};
    };
    if (auto it = key_of_digest.find(digest); it != key_of_digest.end()) {
      remembered.insert_or_assign(it->second, record(it->second));
    }
    if (auto it = keys_of_unscoped.find(digest); it != keys_of_unscoped.end()) {
      for (const std::string& key : it->second) remembered.try_emplace(key, record(key));
    }
  };
  try {
    for (const auto& row : result) {
      if (!row[0].is_null()) {
        sequences[row[0].as<std::string>()] = row[1].as<int64_t>();
      } else if (row[3].is_null()) {
        new_calls.insert(key_of_digest.at(row[2].as<std::string>()));
      } else {
        remember(row[2].as<std::string>(), row[3].as<std::string>(), row[4].as<int>());
      }
    }
  } catch (const std::exception& e) {
    return MarkCommitted(absl::InternalError(
        absl::StrCat("the append committed, but its result could not be read: ", e.what())));
  }
  // Keys known but not seen by the statement: a concurrent call committed them while the
  // statement waited for it. Read now; if that fails, only those calls lack their answer.
  std::vector<std::string> raced_digests;
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string& key = calls[i].idempotency_key;
    if (!new_calls.contains(key) && !remembered.contains(key)) {
      raced_digests.push_back(digests[i]);
      if (!calls[i].unscoped_key.empty()) raced_digests.push_back(unscoped_digests[i]);
    }
  }
  absl::Status raced_status;
  if (!raced_digests.empty()) {
    const std::string digest_array = Array(absl::Span<const std::string>(raced_digests), same);
    std::vector<std::tuple<std::string, std::string, int>> read;
    raced_status = pool_.Run([&](pqxx::transaction_base& txn) {
      read.clear();
      for (const auto& row : txn.exec_prepared(kKnownCalls, digest_array)) {
        read.emplace_back(row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<int>());
      }
    });
    if (raced_status.ok()) {
      for (const auto& [digest, fingerprint, answer] : read) remember(digest, fingerprint, answer);
    }
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string& key = calls[i].idempotency_key;
    if (new_calls.contains(key)) continue;
    if (auto it = remembered.find(key); it != remembered.end()) {
      outcome.known[i] = it->second;
    } else if (!raced_status.ok()) {
      outcome.unanswered[i] = absl::AbortedError(absl::StrCat(
          "idempotency_key: \"", calls[i].unscoped_key.empty() ? key : calls[i].unscoped_key,
          "\" was committed just now by a concurrent call, whose answer could not be read (",
          raced_status.message(),
          "); nothing of this call was published: retry with the same idempotency key to get "
          "that call's answer"));
    } else {
      // Pruned meanwhile (the key was past retention): a replay of nothing.
      outcome.known[i] = CallRecord{key, calls[i].fingerprint, 0, ""};
    }
  }
  appended.reserve(sequences.size());
  for (const EventRecord& event : events) {
    auto it = sequences.find(event.event_id);
    if (it == sequences.end()) continue;
    appended.push_back(event);
    appended.back().sequence = it->second;
  }
  std::sort(appended.begin(), appended.end(),
            [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
  return outcome;
}

absl::StatusOr<DeadLetterPage> PgEventStore::ListDeadLetters(const DeadLetterFilter& filter,
                                                             int limit) {
  DeadLetterPage page;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    page = {};
    for (const auto& row :
         txn.exec_prepared(kListDead, filter.handler, PgTime(filter.failed_after),
                           PgTime(filter.failed_before), filter.reason_contains, limit)) {
      DeadLetterRecord letter;
      letter.handler = row[0].as<std::string>();
      letter.attempts = row[1].as<int>();
      letter.reason = row[2].as<std::string>();
      letter.failed_at = absl::FromUnixMicros(row[3].as<int64_t>());
      page.total_matching = row[4].as<int64_t>();
      letter.event = EventFromRow(row, 5);
      page.letters.push_back(std::move(letter));
    }
  });
  if (!status.ok()) return status;
  return page;  // no row: none match (the limit is at least 1)
}

absl::StatusOr<int> PgEventStore::RetryMatching(const DeadLetterFilter& filter, bool dry_run) {
  int count = 0;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    const std::string after = PgTime(filter.failed_after);
    const std::string before = PgTime(filter.failed_before);
    count = dry_run ? txn.exec_prepared1(kCountDead, filter.handler, after, before,
                                         filter.reason_contains)[0]
                          .as<int>()
                    : static_cast<int>(txn.exec_prepared(kRetryMatching, filter.handler, after,
                                                         before, filter.reason_contains)
                                           .size());
  });
  if (!status.ok()) return status;
  return count;
}

absl::StatusOr<int> PgEventStore::RetryDeadLetters(
    absl::Span<const std::pair<int64_t, std::string>> ids, bool dry_run) {
  using Id = std::pair<int64_t, std::string>;
  const std::string sequences = Array(ids, [](const Id& id) { return std::to_string(id.first); });
  const std::string handlers = Array(ids, [](const Id& id) { return id.second; });
  int count = 0;
  // Named ones: all of them or none, so that a mistyped id is an answer, not a silent 0.
  absl::Status refused;
  absl::Status status = pool_.Transact([&](pqxx::transaction_base& txn) {
    refused = absl::OkStatus();
    absl::flat_hash_set<Id> found;
    for (const auto& row : txn.exec_prepared(kFindDead, sequences, handlers)) {
      found.emplace(row[0].as<int64_t>(), row[1].as<std::string>());
    }
    std::vector<std::string> missing;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (found.contains(ids[i])) continue;
      if (missing.size() < 5) {
        missing.push_back(absl::StrCat("ids[", i, "] (sequence ", ids[i].first, ", handler \"",
                                       ids[i].second.substr(0, 64), "\")"));
      } else if (missing.size() == 5) {
        missing.push_back("...");
      }
    }
    if (!missing.empty()) {
      refused = absl::NotFoundError(
          absl::StrCat("ids: no such dead letter: ", absl::StrJoin(missing, ", "),
                       "; nothing was retried (ListDeadLetters shows the dead letters)"));
      return;
    }
    count = dry_run ? static_cast<int>(found.size())
                    : static_cast<int>(txn.exec_prepared(kRetryDead, sequences, handlers).size());
  });
  if (!status.ok()) return status;
  if (!refused.ok()) return refused;
  return count;
}

absl::StatusOr<ReplayOutcome> PgEventStore::Replay(const std::string& handler,
                                                   const ReplayRange& range, int64_t max_events) {
  ReplayOutcome outcome;
  absl::Status refused;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    const pqxx::result type = txn.exec_prepared(kReplayHandler, handler);
    if (type.empty()) {
      refused = absl::NotFoundError(
          absl::StrCat("handler: no handler named \"", handler, "\" is registered"));
      return;
    }
    if (type[0][1].as<bool>()) {
      // Its redeliveries would wait for a lane no instance runs.
      refused = absl::FailedPreconditionError(absl::StrCat(
          "handler: \"", handler,
          "\" is retired; start an instance configured with it (which un-retires it) first"));
      return;
    }
    outcome.event_type = type[0][0].as<std::string>();
    const std::string types = type[0][2].as<std::string>();
    const std::string from_time = PgTime(range.from_time);
    const std::string to_time = PgTime(range.to_time);
    const int64_t in_range = txn.exec_prepared1(kReplayCount, handler, types, range.from_sequence,
                                                range.to_sequence, from_time, to_time)[0]
                                 .as<int64_t>();
    if (in_range > max_events) {
      refused = absl::FailedPreconditionError(absl::StrCat(
          "the range holds ", in_range, " events of ", handler, ", more than the ", max_events,
          " one replay may schedule; replay it in "
          "parts (from_sequence/to_sequence)"));
      return;
    }
    outcome.replayed = txn.exec_prepared(kReplay, handler, types, range.from_sequence,
                                         range.to_sequence, from_time, to_time)
                           .affected_rows();
  });
  if (!status.ok()) return status;
  if (!refused.ok()) return refused;
  return outcome;
}

absl::StatusOr<int> PgEventStore::PruneFinished(absl::Duration older_than, int limit) {
  int count = 0;
  absl::Status status =
      pool_.Run([&](pqxx::transaction_base& txn) { txn.exec_prepared(kSummarize); });
  if (!status.ok()) return status;
  status = pool_.Transact([&](pqxx::transaction_base& txn) {
    const pqxx::result deleted = txn.exec_prepared(kPrune, Interval(older_than), limit);
    count = static_cast<int>(deleted.size());
    if (count == 0) return;
    if (hooks_.after_prune) hooks_.after_prune();
    std::vector<int64_t> sequences;
    sequences.reserve(deleted.size());
    for (const auto& row : deleted) sequences.push_back(row[0].as<int64_t>());
    txn.exec_prepared0(kPruneRedeliveries, Array(absl::Span<const int64_t>(sequences),
                                                 [](int64_t s) { return std::to_string(s); }));
  });
  if (!status.ok()) return status;
  status = pool_.Run([&](pqxx::transaction_base& txn) {
    txn.exec_prepared(kPruneKeys, Interval(older_than), limit);
  });
  if (!status.ok()) return status;
  status = pool_.Run([&](pqxx::transaction_base& txn) {
    txn.exec_prepared(kPruneSteps, Interval(older_than), limit);
  });
  if (!status.ok()) return status;
  return count;
}

absl::StatusOr<int> PgEventStore::SweepOrphans() {
  int count = 0;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    count = static_cast<int>(txn.exec_prepared(kSweepOrphans).affected_rows());
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
