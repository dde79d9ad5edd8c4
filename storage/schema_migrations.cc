// The schema, as versioned migrations. Names follow DESIGN.md: one name for one thing across
// proto, SQL, C++ and logs.
#include "storage/migrations.h"

namespace booking::storage {
namespace {

constexpr std::string_view kCreateTickets = R"sql(
CREATE TABLE tickets (
  ticket_id           UUID PRIMARY KEY,
  price_amount        NUMERIC(10,2) NOT NULL,
  price_currency      CHAR(3) NOT NULL,
  customer_email      VARCHAR(255) NOT NULL,
  status              TEXT NOT NULL CHECK (status IN ('confirmed', 'canceled')),
  booking_id          UUID,
  -- Publish order (event log sequence) of the last event applied to the row: an older event
  -- arriving late never undoes a newer one.
  last_event_sequence BIGINT NOT NULL,
  created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
)sql";

// The embedded default of the receipts and spreadsheets APIs, used when no URL is configured.
constexpr std::string_view kCreateReceiptsAndTrackerRows = R"sql(
CREATE SEQUENCE receipt_number_sequence;
CREATE TABLE receipts (
  idempotency_key  TEXT PRIMARY KEY,  -- one receipt per key, however often it is asked for
  receipt_number   TEXT NOT NULL UNIQUE
                   DEFAULT 'R-' || lpad(nextval('receipt_number_sequence')::text, 10, '0'),
  ticket_id        UUID NOT NULL,
  price_amount     NUMERIC(10,2) NOT NULL,
  price_currency   CHAR(3) NOT NULL,
  correlation_id   TEXT NOT NULL,
  issued_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX receipts_ticket_id ON receipts (ticket_id);

CREATE TABLE tracker_rows (
  sheet            TEXT NOT NULL,     -- 'tickets-to-print' or 'tickets-to-refund'
  event_id         UUID NOT NULL,     -- the event the row comes from: appended once
  ticket_id        UUID NOT NULL,
  customer_email   VARCHAR(255) NOT NULL,
  price_amount     NUMERIC(10,2) NOT NULL,
  price_currency   CHAR(3) NOT NULL,
  correlation_id   TEXT NOT NULL,
  appended_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (sheet, event_id)
);
CREATE INDEX tracker_rows_sheet_appended ON tracker_rows (sheet, appended_at);
)sql";

// The durable event log. An event is appended with one delivery row per handler of its type; a
// delivery row exists only while that handler's work is unfinished (deleted on success, moved to
// dead_letters after the last attempt). Leases let several instances share the work.
constexpr std::string_view kCreateEventLog = R"sql(
CREATE TABLE events (
  sequence         BIGSERIAL PRIMARY KEY,   -- publish order, one database sequence for all instances
  event_id         UUID NOT NULL UNIQUE,
  event_type       TEXT NOT NULL,
  ticket_id        UUID NOT NULL,
  idempotency_key  TEXT NOT NULL UNIQUE,    -- the same request never publishes twice
  correlation_id   TEXT NOT NULL,
  payload          BYTEA NOT NULL,          -- protobuf bytes of event_type
  published_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE deliveries (
  sequence         BIGINT NOT NULL REFERENCES events (sequence),
  handler          TEXT NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  -- Nobody works on it before lease_until: the owner until then, or a retry's backoff.
  lease_owner      TEXT,
  lease_until      TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_error       TEXT,
  PRIMARY KEY (sequence, handler)
);
CREATE INDEX deliveries_due ON deliveries (lease_until);

CREATE TABLE dead_letters (
  sequence         BIGINT NOT NULL REFERENCES events (sequence),
  handler          TEXT NOT NULL,
  attempts         INTEGER NOT NULL,
  reason           TEXT NOT NULL,
  failed_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (sequence, handler)
);
)sql";

// Delivery rows are only ever written by the statement that appends their event, so the foreign
// key proved nothing at run time, yet it cost a trigger and an index probe per row: three per
// event, a third of the append statement's time under load (measured with pg_stat_statements).
constexpr std::string_view kDropDeliveriesForeignKey = R"sql(
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_sequence_fkey;
)sql";

// Handlers consume the log instead of one delivery row per (event, handler): each handler keeps a
// checkpoint per partition among the events of its type, and instances lease partitions. Only
// failures are rows: dead letters, and `deliveries`, which now holds only redeliveries (dead
// letters sent back).
// `tx` is the appending transaction: a reader takes only rows of transactions older than every
// one still in flight, so an event committed late behind a higher sequence is never skipped.
// An existing log (an upgrade) keeps its unfinished deliveries as redeliveries, and the known
// handlers start after its last event.
constexpr std::string_view kHandlerCheckpoints = R"sql(
ALTER TABLE events ADD COLUMN partition SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
UPDATE events SET partition = (hashtextextended(ticket_id::text, 0) & 15)::smallint;
ALTER TABLE events ALTER COLUMN partition DROP DEFAULT;
-- A handler reads the events of its type in one partition in (tx, sequence) order.
CREATE INDEX events_partition_type_position ON events (partition, event_type, tx, sequence);
-- Event ids are made by the service (random UUIDs): their unique index cost an index insert per
-- event and protected nothing; the idempotency key is what must be unique.
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_event_id_key;

CREATE TABLE partition_leases (
  partition        SMALLINT PRIMARY KEY,
  owner            TEXT,                  -- instance id; NULL: free
  lease_until      TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
  epoch            BIGINT NOT NULL DEFAULT 0  -- raised on every change of owner: fences stale writes
);
INSERT INTO partition_leases (partition) SELECT generate_series(0, 15);

-- Instances alive now, for a fair share of partitions each.
CREATE TABLE lease_owners (
  owner            TEXT PRIMARY KEY,
  alive_until      TIMESTAMPTZ NOT NULL
);

CREATE TABLE handlers (
  handler          TEXT PRIMARY KEY,
  event_type       TEXT NOT NULL,
  registered_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE handler_checkpoints (
  handler          TEXT NOT NULL,
  partition        SMALLINT NOT NULL,
  last_tx          xid8 NOT NULL,     -- (last_tx, last_sequence): the last event finished
  last_sequence    BIGINT NOT NULL,
  read_tx          xid8 NOT NULL,     -- (read_tx, read_sequence): the last event handed to the
  read_sequence    BIGINT NOT NULL,   -- handler; beyond the finished one only after a crash
  updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (handler, partition)
);

INSERT INTO handlers (handler, event_type)
SELECT h.handler, h.event_type
FROM (VALUES ('StoreTickets', 'tickets.v1.TicketBookingConfirmed'),
             ('IssueReceipt', 'tickets.v1.TicketBookingConfirmed'),
             ('AppendToTracker', 'tickets.v1.TicketBookingConfirmed'),
             ('RemoveCanceledTicket', 'tickets.v1.TicketBookingCanceled'),
             ('AppendToRefund', 'tickets.v1.TicketBookingCanceled')) AS h(handler, event_type)
WHERE EXISTS (SELECT 1 FROM events);
INSERT INTO handler_checkpoints (handler, partition, last_tx, last_sequence, read_tx, read_sequence)
SELECT h.handler, p.partition, pg_current_xact_id(), m.sequence, pg_current_xact_id(), m.sequence
FROM handlers h CROSS JOIN partition_leases p
CROSS JOIN (SELECT coalesce(max(sequence), 0) AS sequence FROM events) m;

CREATE INDEX deliveries_handler_due ON deliveries (handler, lease_until);

-- Work not finished yet: events of a handler's type past its checkpoint, and redeliveries.
-- OFFSET 0 keeps the subquery per checkpoint (an index range each), so a caught-up handler
-- costs little, instead of a join over the whole log.
CREATE VIEW pending_deliveries AS
SELECT c.handler, e.sequence
FROM handler_checkpoints c
JOIN handlers h ON h.handler = c.handler
CROSS JOIN LATERAL (
  SELECT e.sequence FROM events e
  WHERE e.partition = c.partition AND e.event_type = h.event_type
    AND (e.tx, e.sequence) > (c.last_tx, c.last_sequence)
  OFFSET 0) e
UNION ALL
SELECT handler, sequence FROM deliveries;
)sql";

// An idempotency key names one request: its fingerprint and first answer are kept (as long as
// the events, --event_retention), so a replay gets that answer and a different request with
// the same key is refused. Written in the same statement as the call's events.
constexpr std::string_view kIdempotencyKeys = R"sql(
CREATE TABLE idempotency_keys (
  idempotency_key  TEXT PRIMARY KEY,
  fingerprint      BYTEA NOT NULL,     -- SHA-256 of the canonical request
  accepted_events  INTEGER NOT NULL,   -- the first call's answer
  created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
)sql";

// The pruner looks for events older than the retention. Without an index on their age it read
// the whole table every minute to find none; a BRIN index (publish time grows with the table)
// costs next to nothing per append and lets it read only the block ranges that hold old events.
// Ranges filled since the last summary always match; the pruner summarizes them before it looks.
constexpr std::string_view kEventsPublishedAtBrin = R"sql(
CREATE INDEX events_published_at_brin ON events USING brin (published_at)
  WITH (autosummarize = on);
)sql";

// What happened to each ticket, for watchers (WatchTickets): a row when its event is appended
// ('accepted', detail: the event type), when a handler finishes it ('done', detail: what the
// handler reports, such as a receipt number) and when a handler gives up ('dead_lettered',
// detail: the reason). Written in the transactions that do those things, so a watcher in any
// instance reads them in (tx, step_sequence) order exactly as handlers read the log.
constexpr std::string_view kTicketSteps = R"sql(
CREATE TABLE ticket_steps (
  step_sequence    BIGSERIAL,
  tx               xid8 NOT NULL DEFAULT pg_current_xact_id(),
  ticket_id        UUID NOT NULL,
  event_sequence   BIGINT NOT NULL,
  step             TEXT NOT NULL CHECK (step IN ('accepted', 'done', 'dead_lettered')),
  handler          TEXT NOT NULL DEFAULT '',
  detail           TEXT NOT NULL DEFAULT '',
  correlation_id   TEXT NOT NULL DEFAULT '',
  at               TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (tx, step_sequence)
);
CREATE INDEX ticket_steps_ticket ON ticket_steps (ticket_id, tx, step_sequence);
CREATE INDEX ticket_steps_at_brin ON ticket_steps USING brin (at) WITH (autosummarize = on);
)sql";

// Per-ticket failure isolation: an event the API refuses on its own is *parked* as a row of
// `deliveries` with its own schedule (lease_until: the next attempt; parked_at: its first
// failure, which bounds its retries by --retry_for), and the handler's later events of the same
// ticket queue behind it there, so one ticket's order holds while every other ticket goes on.
// The ticket id orders a ticket's rows; the trigger fills it for the statements that insert
// redeliveries by sequence alone (dead letters sent back, replays). Watchers see a parked
// event's attempts as 'retrying' steps, with the next attempt's time.
constexpr std::string_view kParkedDeliveries = R"sql(
ALTER TABLE deliveries ADD COLUMN ticket_id UUID;
ALTER TABLE deliveries ADD COLUMN parked_at TIMESTAMPTZ;
UPDATE deliveries d SET ticket_id = e.ticket_id FROM events e WHERE e.sequence = d.sequence;
CREATE INDEX deliveries_handler_ticket ON deliveries (handler, ticket_id, sequence);
CREATE FUNCTION deliveries_fill_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.ticket_id IS NULL THEN
    NEW.ticket_id := (SELECT ticket_id FROM events WHERE sequence = NEW.sequence);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER deliveries_fill_ticket BEFORE INSERT ON deliveries
  FOR EACH ROW EXECUTE FUNCTION deliveries_fill_ticket();

ALTER TABLE ticket_steps DROP CONSTRAINT ticket_steps_step_check;
ALTER TABLE ticket_steps ADD CONSTRAINT ticket_steps_step_check
  CHECK (step IN ('accepted', 'done', 'dead_lettered', 'retrying'));
ALTER TABLE ticket_steps ADD COLUMN next_attempt_at TIMESTAMPTZ;
)sql";

// Handlers removed from the configuration stay registered with their checkpoints, and would
// hold back pruning, COMPLETED waits and the backlog for ever: an operator retires them
// (RetireHandler). A retired handler counts for none of these; registering it again (an instance
// configured with it starts) clears retired_at, and it goes on from its checkpoints.
constexpr std::string_view kRetiredHandlers = R"sql(
ALTER TABLE handlers ADD COLUMN retired_at TIMESTAMPTZ;

CREATE OR REPLACE VIEW pending_deliveries AS
SELECT c.handler, e.sequence
FROM handler_checkpoints c
JOIN handlers h ON h.handler = c.handler AND h.retired_at IS NULL
CROSS JOIN LATERAL (
  SELECT e.sequence FROM events e
  WHERE e.partition = c.partition AND e.event_type = h.event_type
    AND (e.tx, e.sequence) > (c.last_tx, c.last_sequence)
  OFFSET 0) e
UNION ALL
SELECT d.handler, d.sequence FROM deliveries d
WHERE NOT EXISTS (SELECT 1 FROM handlers r WHERE r.handler = d.handler AND r.retired_at IS NOT NULL);
)sql";

// Steps without a row per step: each transaction that does something to tickets (an append, a
// handler's commit) writes one row per kind of step, listing the events it concerns, sorted by
// sequence. A step's place is (tx, batch_sequence * kStepsPerBatch + its ordinal in the row), so
// watchers read in the same order and with the same resume tokens as before; what a step needs
// besides (ticket, correlation id, the accepted event's type) comes from its event. From four
// rows of ~250 bytes per ticket (with two index entries each) to a few bytes per step.
// `ticket_steps` stays, as a view, for people and scripts that read the steps.
// Old rows become rows of one step, at batch_sequence = their step_sequence: an old resume token
// sorts before every step of its transaction, so a watcher may see a step twice, never miss one.
constexpr std::string_view kStepBatches = R"sql(
CREATE TABLE step_batches (
  tx               xid8 NOT NULL DEFAULT pg_current_xact_id(),
  batch_sequence   BIGSERIAL,
  step             TEXT NOT NULL CHECK (step IN ('accepted', 'done', 'dead_lettered', 'retrying')),
  handler          TEXT NOT NULL DEFAULT '',
  event_sequences  BIGINT[] NOT NULL,   -- ascending
  details          TEXT[],              -- per step; NULL: none (accepted: the event's type)
  next_attempts    TIMESTAMPTZ[],       -- per step, 'retrying' only
  at               TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (tx, batch_sequence)
);
-- A ticket's history: the rows whose range of sequences holds one of its events.
CREATE INDEX step_batches_events ON step_batches USING gist
  (int8range(event_sequences[1], event_sequences[cardinality(event_sequences)], '[]'));
CREATE INDEX step_batches_at_brin ON step_batches USING brin (at) WITH (autosummarize = on);
CREATE INDEX events_ticket ON events (ticket_id);

INSERT INTO step_batches (tx, batch_sequence, step, handler, event_sequences, details,
                          next_attempts, at)
SELECT tx, step_sequence, step, handler, ARRAY[event_sequence],
       CASE WHEN step = 'accepted' THEN NULL ELSE ARRAY[detail] END,
       CASE WHEN next_attempt_at IS NULL THEN NULL ELSE ARRAY[next_attempt_at] END, at
FROM ticket_steps;
SELECT setval(pg_get_serial_sequence('step_batches', 'batch_sequence'),
              greatest((SELECT max(batch_sequence) FROM step_batches), 1));
DROP TABLE ticket_steps;

CREATE VIEW ticket_steps AS
SELECT b.tx, b.batch_sequence * 4096 + x.i AS step_sequence, e.ticket_id,
       x.sequence AS event_sequence, b.step, b.handler,
       CASE WHEN b.step = 'accepted' THEN e.event_type ELSE coalesce(b.details[x.i], '') END
         AS detail,
       e.correlation_id, b.at, b.next_attempts[x.i] AS next_attempt_at
FROM step_batches b
CROSS JOIN LATERAL unnest(b.event_sequences) WITH ORDINALITY AS x(sequence, i)
JOIN events e ON e.sequence = x.sequence;
)sql";

// Leaner events. The unique index on the event's own idempotency key cost 144 bytes an event
// and guarded nothing the call's key does not: every call's key is a row of idempotency_keys,
// inserted first in the same statement, and a known key appends nothing (events of no call are
// each their own call). The waits find events by ticket (events_ticket) and key. The keys'
// age index becomes a BRIN one, like the events': their age grows with the table.
constexpr std::string_view kLeanerEvents = R"sql(
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_idempotency_key_key;
DROP INDEX idempotency_keys_created_at;
CREATE INDEX idempotency_keys_created_at_brin ON idempotency_keys USING brin (created_at)
  WITH (autosummarize = on);
)sql";

// The handlers' position index carried the event type's text (34 bytes) in every entry; its
// hash (4) picks the same rows, the text is checked on the row. With 32 places receiving
// inserts (partitions x types) its pages fill about half: 131 -> ~70 bytes an event.
constexpr std::string_view kHashedTypeIndex = R"sql(
CREATE INDEX events_partition_kind_position ON events
  (partition, hashtext(event_type), tx, sequence);
DROP INDEX events_partition_type_position;

CREATE OR REPLACE VIEW pending_deliveries AS
SELECT c.handler, e.sequence
FROM handler_checkpoints c
JOIN handlers h ON h.handler = c.handler AND h.retired_at IS NULL
CROSS JOIN LATERAL (
  SELECT e.sequence FROM events e
  WHERE e.partition = c.partition AND hashtext(e.event_type) = hashtext(h.event_type)
    AND e.event_type = h.event_type AND (e.tx, e.sequence) > (c.last_tx, c.last_sequence)
  OFFSET 0) e
UNION ALL
SELECT d.handler, d.sequence FROM deliveries d
WHERE NOT EXISTS (SELECT 1 FROM handlers r WHERE r.handler = d.handler AND r.retired_at IS NOT NULL);
)sql";

// A call's key row needs the key only to find it again: a 16-byte digest of it does that (SHA-256,
// truncated like the fingerprints: no two keys meet by chance, nor by a client's choosing), and
// the key's text stays in the events. The unique index shrinks from ~69 to ~40 bytes a call, the
// row from 85 to 76. The new table is built and filled, then takes the old one's name.
constexpr std::string_view kDigestedCallKeys = R"sql(
CREATE FUNCTION call_key_digest(key text) RETURNS uuid
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT encode(substring(sha256(convert_to(key, 'UTF8')) FROM 1 FOR 16), 'hex')::uuid $$;

CREATE TABLE call_keys (
  key_digest UUID PRIMARY KEY,        -- call_key_digest(the call's idempotency key)
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  accepted_events INTEGER NOT NULL,   -- the call's answer, for a replay
  fingerprint BYTEA NOT NULL          -- the request's, to tell a replay from a reused key
);
INSERT INTO call_keys (key_digest, created_at, accepted_events, fingerprint)
SELECT call_key_digest(idempotency_key), created_at, accepted_events, fingerprint
FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE call_keys RENAME TO idempotency_keys;
ALTER INDEX call_keys_pkey RENAME TO idempotency_keys_pkey;
CREATE INDEX idempotency_keys_created_at_brin ON idempotency_keys USING brin (created_at)
  WITH (autosummarize = on);
)sql";

// A handler may take events of several types in one order (the JetStream relay takes every
// event, so that a ticket's confirmation and cancellation leave in log order): `event_types`
// lists them; `event_type` stays as their display ("a, b"), read by older tools.
constexpr std::string_view kHandlerEventTypes = R"sql(
ALTER TABLE handlers ADD COLUMN event_types TEXT[];
UPDATE handlers SET event_types = ARRAY[event_type];
ALTER TABLE handlers ALTER COLUMN event_types SET NOT NULL;

CREATE OR REPLACE VIEW pending_deliveries AS
SELECT c.handler, e.sequence
FROM handler_checkpoints c
JOIN handlers h ON h.handler = c.handler AND h.retired_at IS NULL
CROSS JOIN LATERAL unnest(h.event_types) AS t(event_type)
CROSS JOIN LATERAL (
  SELECT e.sequence FROM events e
  WHERE e.partition = c.partition AND hashtext(e.event_type) = hashtext(t.event_type)
    AND e.event_type = t.event_type AND (e.tx, e.sequence) > (c.last_tx, c.last_sequence)
  OFFSET 0) e
UNION ALL
SELECT d.handler, d.sequence FROM deliveries d
WHERE NOT EXISTS (SELECT 1 FROM handlers r WHERE r.handler = d.handler AND r.retired_at IS NOT NULL);
)sql";

constexpr Migration kMigrations[] = {
    {1, "create tickets", kCreateTickets},
    {2, "create receipts and tracker_rows", kCreateReceiptsAndTrackerRows},
    {3, "create events, deliveries and dead_letters", kCreateEventLog},
    {4, "drop the deliveries foreign key", kDropDeliveriesForeignKey},
    {5, "handler checkpoints over a partitioned log", kHandlerCheckpoints},
    {6, "idempotency keys with request fingerprints", kIdempotencyKeys},
    {7, "BRIN index on events.published_at for the pruner", kEventsPublishedAtBrin},
    {8, "ticket_steps for watchers", kTicketSteps},
    {9, "parked deliveries: per-ticket failure isolation", kParkedDeliveries},
    {10, "retired handlers", kRetiredHandlers},
    {11, "step_batches: steps without a row per step", kStepBatches},
    {12, "leaner events: no unique index on the event's key", kLeanerEvents},
    {13, "the handlers' position index by the type's hash", kHashedTypeIndex},
    {14, "call keys by a 16-byte digest", kDigestedCallKeys},
    {15, "handlers of several event types", kHandlerEventTypes},
};

}  // namespace

absl::Span<const Migration> SchemaMigrations() { return kMigrations; }

}  // namespace booking::storage
