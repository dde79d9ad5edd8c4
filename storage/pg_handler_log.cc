#include "storage/pg_handler_log.h"

#include <algorithm>
#include <pqxx/pqxx>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/safe_text.h"
#include "storage/pg_array.h"
#include "storage/step_log.h"

namespace booking::storage {
namespace {

constexpr char kRegister[] = "handler_register";
constexpr char kRead[] = "handler_read";
constexpr char kClaimRedeliveries[] = "handler_claim_redeliveries";
constexpr char kAdvance[] = "handler_advance";
constexpr char kFinishRedeliveries[] = "handler_finish_redeliveries";
constexpr char kDeadLetters[] = "handler_dead_letters";
constexpr char kSteps[] = "handler_steps";
constexpr char kRenew[] = "leases_renew";
constexpr char kLiveOwners[] = "leases_live_owners";
constexpr char kClaim[] = "leases_claim";
constexpr char kRelease[] = "leases_release";
constexpr char kLeave[] = "leases_leave";
constexpr char kBacklog[] = "handler_backlog";
constexpr char kPark[] = "handler_park";
constexpr char kReschedule[] = "handler_reschedule";
constexpr char kParked[] = "handler_parked";

// Outside text (an API's error body, a handler's note) as a column accepts it.
constexpr size_t kMaxStoredText = 2000;

std::string PgTime(absl::Time time) {
  if (time == absl::InfinitePast()) return "-infinity";
  if (time == absl::InfiniteFuture()) return "infinity";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone());
}

absl::Time TimeFromMicros(const pqxx::field& field) {
  return field.is_null() ? absl::InfinitePast() : absl::FromUnixMicros(field.as<int64_t>());
}

std::string Interval(absl::Duration duration) {
  return absl::StrCat(absl::ToInt64Milliseconds(duration), " milliseconds");
}

template <typename T, typename Fn>
std::string Array(absl::Span<const T> items, Fn&& field) {
  return ToPgArrayLiteral(items, std::forward<Fn>(field));
}

std::string Ints(absl::Span<const int> values) {
  return Array(values, [](int v) { return std::to_string(v); });
}

std::vector<PartitionLease> Leases(const pqxx::result& result) {
  std::vector<PartitionLease> leases;
  for (const auto& row : result) leases.push_back({row[0].as<int>(), row[1].as<int64_t>()});
  std::sort(leases.begin(), leases.end(),
            [](const auto& a, const auto& b) { return a.partition < b.partition; });
  return leases;
}

}  // namespace

std::vector<PreparedStatement> PgHandlerLog::Statements() {
  return {
      // An instance configured with a retired handler un-retires it: it goes on from its
      // checkpoints (events pruned meanwhile are gone for it).
      {kRegister,
       "WITH h AS ("
       "  INSERT INTO handlers (handler, event_type, event_types)"
       "  VALUES ($1, array_to_string($2::text[], ', '), $2::text[])"
       "  ON CONFLICT (handler) DO UPDATE SET event_type = EXCLUDED.event_type,"
       "                                      event_types = EXCLUDED.event_types, retired_at = NULL"
       "), start AS ("
       "  SELECT CASE WHEN $3 THEN pg_snapshot_xmax(pg_current_snapshot())"
       "              ELSE '0'::xid8 END AS tx"
       ") INSERT INTO handler_checkpoints"
       "  (handler, partition, last_tx, last_sequence, read_tx, read_sequence)"
       " SELECT $1, p.partition, start.tx, 0, start.tx, 0 FROM partition_leases p, start"
       " ON CONFLICT (handler, partition) DO NOTHING"},
      {kRead,
       "WITH batch AS ("
       "  SELECT c.partition, l.epoch, e.tx, e.sequence, e.event_id, e.event_type, e.ticket_id,"
       "         e.idempotency_key, e.correlation_id, e.payload,"
       "         (e.tx, e.sequence) <= (c.read_tx, c.read_sequence) AS redelivered,"
       "         ($7 AND e.ticket_id IN (SELECT d.ticket_id FROM deliveries d"
       "                                 WHERE d.handler = $1)) AS blocked"
       "  FROM handler_checkpoints c"
       "  JOIN partition_leases l ON l.partition = c.partition AND l.owner = $2"
       // Per type along the position index, then merged: a handler of several types reads
       // them in one (tx, sequence) order without an index of its own.
       "  CROSS JOIN LATERAL ("
       "    SELECT x.* FROM unnest($3::text[]) AS t(event_type) CROSS JOIN LATERAL ("
       "      SELECT * FROM events e"
       "      WHERE e.partition = c.partition AND hashtext(e.event_type) = hashtext(t.event_type)"
       "        AND e.event_type = t.event_type"
       "        AND (e.tx, e.sequence) > (c.last_tx, c.last_sequence)"
       "        AND e.tx < pg_snapshot_xmin(pg_current_snapshot())"
       "      ORDER BY e.tx, e.sequence LIMIT $5) x"
       "    ORDER BY x.tx, x.sequence LIMIT $5) e"
       "  WHERE c.handler = $1 AND c.partition = ANY ($4::smallint[])"
       "), marked AS ("
       "  UPDATE handler_checkpoints c SET read_tx = m.tx, read_sequence = m.sequence"
       "  FROM (SELECT DISTINCT ON (partition) partition, tx, sequence FROM batch"
       "        ORDER BY partition, tx DESC, sequence DESC) m"
       "  WHERE $6 AND c.handler = $1 AND c.partition = m.partition"
       "    AND (m.tx, m.sequence) > (c.read_tx, c.read_sequence)"
       ") SELECT partition, epoch, tx::text, sequence, event_id::text, event_type,"
       "         ticket_id::text, idempotency_key, correlation_id, payload, redelivered, blocked"
       // Qualified: an unqualified `tx` would name the text output column, and order by text.
       " FROM batch ORDER BY batch.partition, batch.tx, batch.sequence"},
      {kClaimRedeliveries,
       // Only the oldest row of each ticket: the ones behind it wait until it is done.
       "WITH due AS ("
       "  SELECT d.sequence, d.handler FROM deliveries d"
       "  WHERE d.handler = $1 AND d.lease_until <= now()"
       "    AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.handler = d.handler"
       "                    AND o.ticket_id = d.ticket_id AND o.sequence < d.sequence)"
       "  ORDER BY d.sequence LIMIT $3 FOR UPDATE OF d SKIP LOCKED"
       ") UPDATE deliveries d SET lease_owner = $2, lease_until = now() + $4::interval,"
       "                          attempts = d.attempts + 1"
       " FROM due, events e"
       " WHERE d.sequence = due.sequence AND d.handler = due.handler AND e.sequence = d.sequence"
       " RETURNING e.event_id::text, e.event_type, e.ticket_id::text, e.idempotency_key,"
       "           e.correlation_id, e.payload, e.sequence, d.attempts,"
       "           (extract(epoch FROM d.parked_at) * 1000000)::bigint"},
      {kAdvance,
       // FOR SHARE: a claim that changed the row first makes this wait and then see the new
       // owner; one that comes later skips the row (SKIP LOCKED) until this has committed.
       "WITH x AS ("
       "  SELECT * FROM UNNEST($2::smallint[], $3::bigint[], $4::text[], $5::bigint[])"
       "         AS x(partition, epoch, tx, sequence)"
       "), owned AS ("
       "  SELECT l.partition FROM partition_leases l JOIN x ON x.partition = l.partition"
       "  WHERE l.owner = $6 AND l.epoch = x.epoch FOR SHARE OF l"
       "), moved AS ("
       "  UPDATE handler_checkpoints c SET last_tx = x.tx::xid8, last_sequence = x.sequence,"
       "                                   updated_at = now()"
       "  FROM x JOIN owned o ON o.partition = x.partition"
       "  WHERE c.handler = $1 AND c.partition = x.partition"
       "    AND (c.last_tx, c.last_sequence) < (x.tx::xid8, x.sequence)"  // never backwards
       ") SELECT partition FROM owned"},
      {kFinishRedeliveries,
       "DELETE FROM deliveries WHERE handler = $1 AND lease_owner = $2"
       " AND sequence = ANY ($3::bigint[]) RETURNING sequence"},
      {kDeadLetters,
       "INSERT INTO dead_letters (sequence, handler, attempts, reason)"
       " SELECT x.sequence, $1, x.attempts, x.reason"
       " FROM UNNEST($2::bigint[], $3::int[], $4::text[]) AS x(sequence, attempts, reason)"
       " ON CONFLICT (sequence, handler) DO UPDATE SET attempts = EXCLUDED.attempts,"
       " reason = EXCLUDED.reason, failed_at = now()"},
      // One row per kind of step: the events it concerns ascending, with their details
      // ('{}': none) and next attempts ('retrying').
      {kSteps,
       "INSERT INTO step_batches (step, handler, event_sequences, details, next_attempts)"
       " VALUES ($1, $2, $3::bigint[], NULLIF($4::text[], '{}'),"
       "         NULLIF($5::timestamptz[], '{}'))"},
      {kPark,
       "INSERT INTO deliveries (sequence, handler, ticket_id, lease_until, parked_at, last_error,"
       "                        attempts)"
       " SELECT x.sequence, $1, x.ticket_id::uuid, x.next_at::timestamptz,"
       "        NULLIF(x.parked_at::timestamptz, '-infinity'), NULLIF(x.reason, ''), x.attempts"
       " FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[])"
       "      AS x(sequence, ticket_id, next_at, parked_at, reason, attempts)"
       " ON CONFLICT (sequence, handler) DO NOTHING"},
      {kReschedule,
       "UPDATE deliveries d SET lease_owner = NULL, lease_until = x.next_at::timestamptz,"
       "  last_error = x.reason,"
       "  parked_at = coalesce(d.parked_at, NULLIF(x.parked_at::timestamptz, '-infinity'))"
       " FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[])"
       "      AS x(sequence, next_at, parked_at, reason)"
       " WHERE d.handler = $1 AND d.sequence = x.sequence AND d.lease_owner = $6"
       " RETURNING d.sequence"},
      {kParked,
       "SELECT handler, count(*), (extract(epoch FROM min(parked_at)) * 1000000)::bigint"
       " FROM deliveries WHERE parked_at IS NOT NULL GROUP BY handler"},
      {kRenew,
       "WITH alive AS ("
       "  INSERT INTO lease_owners (owner, alive_until) VALUES ($1, now() + $2::interval)"
       "  ON CONFLICT (owner) DO UPDATE SET alive_until = EXCLUDED.alive_until"
       "), redeliveries AS ("
       "  UPDATE deliveries SET lease_until = now() + $2::interval WHERE lease_owner = $1"
       "), forgotten AS ("
       "  DELETE FROM lease_owners WHERE alive_until < now() - interval '1 day'"
       ") UPDATE partition_leases SET lease_until = now() + $2::interval WHERE owner = $1"
       " RETURNING partition, epoch"},
      {kLiveOwners, "SELECT count(*) FROM lease_owners WHERE alive_until > now()"},
      {kClaim,
       "WITH free AS ("
       "  SELECT partition FROM partition_leases"
       "  WHERE (owner IS NULL OR lease_until <= now()) AND owner IS DISTINCT FROM $1"
       "  ORDER BY partition LIMIT $3 FOR UPDATE SKIP LOCKED"
       ") UPDATE partition_leases l SET owner = $1, lease_until = now() + $2::interval,"
       "                               epoch = l.epoch + 1"
       " FROM free WHERE l.partition = free.partition RETURNING l.partition, l.epoch"},
      {kRelease,
       "UPDATE partition_leases SET owner = NULL, lease_until = '-infinity'"
       " WHERE owner = $1 AND partition = ANY ($2::smallint[])"},
      {kLeave,
       "WITH gone AS (DELETE FROM lease_owners WHERE owner = $1)"
       " UPDATE deliveries SET lease_owner = NULL, lease_until = now() WHERE lease_owner = $1"},
      // The oldest unread event: the first past the checkpoint of each partition and event
      // type, found along events_partition_kind_position (one index probe each).
      {kBacklog,
       "WITH unread AS ("
       "  SELECT c.handler, min(e.published_at) AS since"
       "  FROM handler_checkpoints c"
       "  JOIN handlers h ON h.handler = c.handler AND h.retired_at IS NULL"
       "  CROSS JOIN LATERAL unnest(h.event_types) AS t(event_type)"
       "  CROSS JOIN LATERAL ("
       "    SELECT e.published_at FROM events e"
       "    WHERE e.partition = c.partition AND hashtext(e.event_type) = hashtext(t.event_type)"
       "      AND e.event_type = t.event_type AND (e.tx, e.sequence) > (c.last_tx, c.last_sequence)"
       "    ORDER BY e.tx, e.sequence LIMIT 1) e"
       "  GROUP BY c.handler"
       ") SELECT b.handler, b.events, (extract(epoch FROM u.since) * 1000000)::bigint"
       " FROM (SELECT handler, count(*) AS events FROM pending_deliveries GROUP BY handler) b"
       " LEFT JOIN unread u ON u.handler = b.handler"},
  };
}

absl::StatusOr<bool> PgHandlerLog::Register(const std::string& handler,
                                            absl::Span<const std::string> event_types,
                                            StartFrom start) {
  bool placed = false;
  const std::string types = ToPgArrayLiteral(event_types, [](const std::string& t) { return t; });
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    placed =
        txn.exec_prepared(kRegister, handler, types, start == StartFrom::kLatest).affected_rows() >
        0;
  });
  if (!status.ok()) return status;
  return placed;
}

absl::StatusOr<HandlerBatchRead> PgHandlerLog::Read(const std::string& handler,
                                                    const ReadOptions& options) {
  HandlerBatchRead batch;
  std::vector<int> partitions;
  for (const PartitionLease& lease : options.partitions) partitions.push_back(lease.partition);
  auto event_from = [](const pqxx::row& row, int first, LoggedEvent& out) {
    out.event.event_id = row[first].as<std::string>();
    out.event.event_type = row[first + 1].as<std::string>();
    out.event.ticket_id = row[first + 2].as<std::string>();
    out.event.idempotency_key = row[first + 3].as<std::string>();
    out.event.correlation_id = row[first + 4].as<std::string>();
    if (!row[first + 5].is_null()) out.event.payload = pqxx::binarystring(row[first + 5]).str();
  };
  if (!partitions.empty()) {
    absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
      batch.events.clear();
      batch.ends.clear();
      const pqxx::result result =
          txn.exec_prepared(kRead, handler, options.owner,
                            ToPgArrayLiteral(absl::MakeConstSpan(options.event_types),
                                             [](const std::string& t) { return t; }),
                            Ints(partitions), options.limit_per_partition, options.mark_handed_out,
                            options.by_ticket);
      batch.events.reserve(result.size());
      for (const auto& row : result) {
        LoggedEvent event;
        event.partition = row[0].as<int>();
        const int64_t epoch = row[1].as<int64_t>();
        event.position = {row[2].as<uint64_t>(), row[3].as<int64_t>()};
        event.event.sequence = event.position.sequence;
        event_from(row, 4, event);
        event.redelivered = row[10].as<bool>();
        event.blocked = !row[11].is_null() && row[11].as<bool>();
        if (batch.ends.empty() || batch.ends.back().first.partition != event.partition) {
          batch.ends.push_back({{event.partition, epoch}, event.position});
        } else {
          batch.ends.back().second = event.position;
        }
        batch.events.push_back(std::move(event));
      }
    });
    if (!status.ok()) return status;
  }
  if (options.max_redeliveries > 0) {
    std::vector<LoggedEvent> redeliveries;
    absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
      redeliveries.clear();
      for (const auto& row :
           txn.exec_prepared(kClaimRedeliveries, handler, options.owner, options.max_redeliveries,
                             Interval(options.redelivery_lease))) {
        LoggedEvent event;
        event_from(row, 0, event);
        event.event.sequence = row[6].as<int64_t>();
        event.attempts = row[7].as<int>();
        event.first_failed_at = TimeFromMicros(row[8]);
        event.redelivered = true;
        redeliveries.push_back(std::move(event));
      }
    });
    // Redeliveries are claimed after the log read: if the claim fails, the log part stands.
    if (status.ok()) {
      for (LoggedEvent& event : redeliveries) batch.events.push_back(std::move(event));
    } else if (batch.events.empty()) {
      return status;
    }
  }
  return batch;
}

absl::StatusOr<CommitResult> PgHandlerLog::Commit(const std::string& handler,
                                                  const HandlerProgress& progress) {
  using Checkpoint = std::pair<PartitionLease, LogPosition>;
  using Parked = HandlerProgress::Parked;
  const absl::Span<const Checkpoint> checkpoints(progress.checkpoints);
  const std::string partitions =
      Array(checkpoints, [](const Checkpoint& c) { return std::to_string(c.first.partition); });
  const std::string epochs =
      Array(checkpoints, [](const Checkpoint& c) { return std::to_string(c.first.epoch); });
  const std::string txs =
      Array(checkpoints, [](const Checkpoint& c) { return std::to_string(c.second.tx); });
  const std::string sequences =
      Array(checkpoints, [](const Checkpoint& c) { return std::to_string(c.second.sequence); });
  std::vector<int64_t> redelivery_sequences = progress.redeliveries_done;
  for (const auto& letter : progress.dead_letters) {
    if (letter.partition < 0) redelivery_sequences.push_back(letter.sequence);
  }
  CommitResult result;
  auto commit = [&](pqxx::transaction_base& txn) {
    result = {};
    absl::flat_hash_set<int> accepted;
    if (!checkpoints.empty()) {
      for (const auto& row : txn.exec_prepared(kAdvance, handler, partitions, epochs, txs,
                                               sequences, progress.owner)) {
        accepted.insert(row[0].as<int>());
      }
    }
    result.stale_partitions = static_cast<int>(checkpoints.size() - accepted.size());
    for (const Checkpoint& c : checkpoints) {
      if (!accepted.contains(c.first.partition)) result.stale.push_back(c.first.partition);
    }
    absl::flat_hash_set<int64_t> held;
    if (!redelivery_sequences.empty()) {
      const std::string ids = Array(absl::Span<const int64_t>(redelivery_sequences),
                                    [](int64_t s) { return std::to_string(s); });
      for (const auto& row : txn.exec_prepared(kFinishRedeliveries, handler, progress.owner, ids)) {
        held.insert(row[0].as<int64_t>());
      }
    }
    // Parked events: new rows for log events of partitions still held; a new schedule for
    // redeliveries still claimed.
    std::vector<const Parked*> parked_new, parked_again;
    for (const Parked& parked : progress.parked) {
      if (parked.partition >= 0) {
        if (accepted.contains(parked.partition)) parked_new.push_back(&parked);
      } else {
        parked_again.push_back(&parked);
      }
    }
    using ParkedPtrs = absl::Span<const Parked* const>;
    auto safe_reason = [](const Parked* p) { return common::SafeText(p->reason, kMaxStoredText); };
    if (!parked_new.empty()) {
      const ParkedPtrs rows(parked_new);
      txn.exec_prepared0(kPark, handler,
                         Array(rows, [](const Parked* p) { return std::to_string(p->sequence); }),
                         Array(rows, [](const Parked* p) { return p->ticket_id; }),
                         Array(rows, [](const Parked* p) { return PgTime(p->next_attempt); }),
                         Array(rows, [](const Parked* p) { return PgTime(p->first_failed_at); }),
                         Array(rows, safe_reason),
                         Array(rows, [](const Parked* p) { return std::to_string(p->attempts); }));
    }
    absl::flat_hash_set<int64_t> rescheduled;
    if (!parked_again.empty()) {
      const ParkedPtrs rows(parked_again);
      for (const auto& row : txn.exec_prepared(
               kReschedule, handler,
               Array(rows, [](const Parked* p) { return std::to_string(p->sequence); }),
               Array(rows, [](const Parked* p) { return PgTime(p->next_attempt); }),
               Array(rows, [](const Parked* p) { return PgTime(p->first_failed_at); }),
               Array(rows, safe_reason), progress.owner)) {
        rescheduled.insert(row[0].as<int64_t>());
      }
    }
    std::vector<const HandlerProgress::DeadLetter*> letters;
    for (const auto& letter : progress.dead_letters) {
      const bool current = letter.partition < 0 ? held.contains(letter.sequence)
                                                : accepted.contains(letter.partition);
      if (current) {
        letters.push_back(&letter);
      } else {
        ++result.stale_dead_letters;
      }
    }
    // Steps for watchers, fenced as the checkpoints are: a row per kind.
    struct Step {
      int64_t sequence;
      std::string detail;
      absl::Time next;
    };
    std::vector<Step> done, dead, retrying;
    for (const auto& finished : progress.finished) {
      const bool current = finished.partition < 0 ? held.contains(finished.sequence)
                                                  : accepted.contains(finished.partition);
      if (current) done.push_back({finished.sequence, finished.note, absl::InfinitePast()});
    }
    for (const auto* letter : letters) {
      dead.push_back({letter->sequence, letter->reason, absl::InfinitePast()});
    }
    for (const Parked* parked : parked_new) {
      if (!parked->reason.empty()) {
        retrying.push_back({parked->sequence, parked->reason, parked->next_attempt});
      }
    }
    for (const Parked* parked : parked_again) {
      if (rescheduled.contains(parked->sequence)) {
        retrying.push_back({parked->sequence, parked->reason, parked->next_attempt});
      }
    }
    auto write_steps = [&](const char* kind, std::vector<Step>& steps, bool with_next) {
      std::sort(steps.begin(), steps.end(),
                [](const Step& a, const Step& b) { return a.sequence < b.sequence; });
      for (size_t first = 0; first < steps.size(); first += kStepsPerBatch - 1) {
        const absl::Span<const Step> batch = absl::MakeConstSpan(steps).subspan(
            first, std::min<size_t>(kStepsPerBatch - 1, steps.size() - first));
        const bool with_details = std::any_of(batch.begin(), batch.end(),
                                              [](const Step& s) { return !s.detail.empty(); });
        txn.exec_prepared0(kSteps, kind, handler,
                           Array(batch, [](const Step& s) { return std::to_string(s.sequence); }),
                           with_details ? Array(batch,
                                                [](const Step& s) {
                                                  return common::SafeText(s.detail, kMaxStoredText);
                                                })
                                        : std::string("{}"),
                           with_next ? Array(batch, [](const Step& s) { return PgTime(s.next); })
                                     : std::string("{}"));
      }
    };
    write_steps("done", done, false);
    write_steps("dead_lettered", dead, false);
    write_steps("retrying", retrying, true);
    if (!letters.empty()) {
      using Ptrs = absl::Span<const HandlerProgress::DeadLetter* const>;
      txn.exec_prepared0(
          kDeadLetters, handler,
          Array(Ptrs(letters), [](const auto* l) { return std::to_string(l->sequence); }),
          Array(Ptrs(letters), [](const auto* l) { return std::to_string(l->attempts); }),
          Array(Ptrs(letters),
                [](const auto* l) { return common::SafeText(l->reason, kMaxStoredText); }));
    }
  };
  absl::Status status = pool_.Transact(commit);
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<PartitionLease>> PgHandlerLog::Renew(const std::string& owner,
                                                                absl::Duration lease) {
  std::vector<PartitionLease> leases;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    leases = Leases(txn.exec_prepared(kRenew, owner, Interval(lease)));
  });
  if (!status.ok()) return status;
  return leases;
}

absl::StatusOr<int> PgHandlerLog::LiveOwners() {
  int count = 0;
  absl::Status status = pool_.Run(
      [&](pqxx::transaction_base& txn) { count = txn.exec_prepared1(kLiveOwners)[0].as<int>(); });
  if (!status.ok()) return status;
  return count;
}

absl::StatusOr<std::vector<PartitionLease>> PgHandlerLog::Claim(const std::string& owner,
                                                                absl::Duration lease, int count) {
  std::vector<PartitionLease> leases;
  if (count <= 0) return leases;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    leases = Leases(txn.exec_prepared(kClaim, owner, Interval(lease), count));
  });
  if (!status.ok()) return status;
  return leases;
}

absl::Status PgHandlerLog::Release(const std::string& owner, absl::Span<const int> partitions,
                                   bool leaving) {
  return pool_.Transact([&](pqxx::transaction_base& txn) {
    if (!partitions.empty()) txn.exec_prepared0(kRelease, owner, Ints(partitions));
    if (leaving) txn.exec_prepared0(kLeave, owner);
  });
}

absl::StatusOr<std::vector<ParkedSummary>> PgHandlerLog::Parked() {
  std::vector<ParkedSummary> parked;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    parked.clear();
    for (const auto& row : txn.exec_prepared(kParked)) {
      parked.push_back({row[0].as<std::string>(), row[1].as<int64_t>(), TimeFromMicros(row[2])});
    }
  });
  if (!status.ok()) return status;
  return parked;
}

absl::StatusOr<std::vector<HandlerBacklog>> PgHandlerLog::Backlog() {
  std::vector<HandlerBacklog> backlog;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    backlog.clear();
    for (const auto& row : txn.exec_prepared(kBacklog)) {
      backlog.push_back({.handler = row[0].as<std::string>(),
                         .events = row[1].as<int64_t>(),
                         .oldest_unread = row[2].is_null()
                                              ? absl::InfiniteFuture()
                                              : absl::FromUnixMicros(row[2].as<int64_t>())});
    }
  });
  if (!status.ok()) return status;
  return backlog;
}

}  // namespace booking::storage
