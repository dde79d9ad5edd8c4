#include "app/config.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <type_traits>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/uuid.h"
#include "handlers/handler_table.h"
#include "rest/rest_error.h"
#include "storage/pg_statements.h"

ABSL_FLAG(std::string, grpc_addr, "127.0.0.1:50051", "Address the gRPC API listens on.");
ABSL_FLAG(std::string, ready_file, "",
          "Once serving, write the ports taken (grpc_port=N, http_port=N) to this file, whole "
          "or not at all: with port 0 in the addresses, how a supervisor or test finds them.");
ABSL_FLAG(std::string, http_addr, "127.0.0.1:8080",
          "Address the REST/JSON gateway listens on; empty: no HTTP port.");
ABSL_FLAG(int, http_threads, 2, "Threads serving the HTTP port.");
ABSL_FLAG(int, max_http_connections, 1000,
          "HTTP connections open at once; a new one beyond it gets 503 and is closed.");
ABSL_FLAG(int64_t, max_http_body_memory, 64 << 20,
          "Bytes of HTTP request bodies being received or handled at once, over all "
          "connections; a request that would pass it gets 503 before its body is read.");
ABSL_FLAG(absl::Duration, http_read_timeout, absl::Seconds(30),
          "Longest one HTTP request may take to arrive, the first on a new connection too.");
ABSL_FLAG(absl::Duration, http_idle_timeout, absl::Seconds(60),
          "Longest a keep-alive HTTP connection may wait for its next request.");
ABSL_FLAG(int, max_http_body_bytes, 1 << 20, "Largest HTTP request body accepted (413 beyond).");
ABSL_FLAG(std::vector<std::string>, http_allowed_hosts, {},
          "Host names the REST port answers to besides IP literals, localhost names and this "
          "machine's name (comma-separated; * for any). A name not listed is refused with 403: "
          "it could be a DNS rebinding attack from a web page.");
ABSL_FLAG(std::vector<std::string>, http_allowed_origins, {},
          "Origins (scheme://host[:port], comma-separated; * for any) whose web pages may send "
          "state-changing REST requests besides the server's own pages (the console).");
ABSL_FLAG(absl::Duration, http_call_timeout, absl::Seconds(30),
          "Deadline of the gRPC call behind one HTTP request.");
ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL URL (libpq syntax); when empty, the DATABASE_URL environment variable.");
ABSL_FLAG(int, db_pool_size, 8, "PostgreSQL connections in the pool.");
ABSL_FLAG(absl::Duration, max_wait, absl::Seconds(10),
          "Longest an UpdateTicketsStatus call that asks for STORED or COMPLETED waits for the "
          "handlers (also bounded by its deadline); reaching it is not an error.");
ABSL_FLAG(absl::Duration, stream_heartbeat, absl::Seconds(15),
          "Silence after which a streamed HTTP response gets a heartbeat (Server-Sent Events: a "
          "comment line; NDJSON: an empty line), so proxies keep it and a client that went away "
          "is noticed.");
ABSL_FLAG(absl::Duration, sse_heartbeat, absl::ZeroDuration(),
          "The former name of --stream_heartbeat; when set, it wins.");
ABSL_FLAG(int, max_watch_streams_per_client, 1000,
          "WatchTickets streams one client may have open on this instance (its token when "
          "tokens are on, else its IP address); more are refused with RESOURCE_EXHAUSTED while "
          "other clients still get streams.");
ABSL_FLAG(int, max_watch_streams, 10000,
          "WatchTickets streams open at once on this instance; more are refused with "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, watch_buffer, 1024,
          "Steps queued per WatchTickets stream; a stream that falls further behind is ended "
          "with RESOURCE_EXHAUSTED (the client resumes with its last resume_token).");
ABSL_FLAG(absl::Duration, db_statement_timeout, absl::Seconds(5),
          "Longest a single SQL statement may run.");
ABSL_FLAG(absl::Duration, db_transaction_timeout, absl::ZeroDuration(),
          "Longest one transaction may hold its connection before the service cuts it (a dead "
          "network gives no error of its own); at least db_statement_timeout. Also PostgreSQL's "
          "tcp_user_timeout. 0: db_statement_timeout + 5s.");
ABSL_FLAG(absl::Duration, db_connect_timeout, absl::Seconds(5),
          "Longest one connection attempt to PostgreSQL may take.");
ABSL_FLAG(absl::Duration, db_startup_timeout, absl::Seconds(30),
          "How long start-up keeps trying to reach PostgreSQL before giving up.");
ABSL_FLAG(std::string, event_log, "postgres",
          "postgres: events are durable before a call is answered; memory: for development, "
          "events not yet handled are lost on exit.");
ABSL_FLAG(std::string, role, "all",
          "all: accept calls and run the handlers; api: accept calls and append events, run no "
          "handler; worker: run the handlers, serve health, metrics and the admin API only. Any "
          "mix of instances on one database does the work of one process.");
ABSL_FLAG(std::string, new_handler_start, "earliest",
          "Where a handler the database has never seen starts: earliest (the oldest event still "
          "in the log: a backfill) or latest (events appended from now on).");
ABSL_FLAG(std::string, handler_start, "",
          "Per-handler overrides of --new_handler_start, e.g. AppendToAudit=latest,"
          "IssueReceipt=earliest. Only a handler seen for the first time is placed.");
ABSL_FLAG(std::string, instance_id, "",
          "Name on the partition leases this process takes; default host-pid-random.");
ABSL_FLAG(absl::Duration, delivery_lease, absl::Seconds(10),
          "How long a partition of the log stays with this process without renewal (renewed "
          "every third of it): after a crash, others take its partitions over after this long.");
ABSL_FLAG(absl::Duration, retry_for, absl::Hours(24),
          "How long a handler retries an event that fails with a retryable error before it "
          "becomes a dead letter (errors no retry can help dead-letter at once).");
ABSL_FLAG(absl::Duration, retry_first_delay, absl::Milliseconds(200),
          "Backoff after a handler's first failed round; doubles per round, with jitter.");
ABSL_FLAG(absl::Duration, retry_max_delay, absl::Seconds(60), "Longest backoff between rounds.");
ABSL_FLAG(int, breaker_failures, 3,
          "Consecutive failed calls after which a handler's breaker opens: it then probes with "
          "one event per backoff until one succeeds.");
ABSL_FLAG(int, api_concurrency, 32,
          "Calls in flight at most to each external API (receipts, spreadsheets).");
ABSL_FLAG(absl::Duration, handler_poll_interval, absl::Milliseconds(100),
          "How often an idle handler reads the log for events of other instances (this "
          "instance's own wake the handlers at once).");
ABSL_FLAG(absl::Duration, event_retention, absl::Hours(24 * 7),
          "How long finished events (and so idempotency keys) are kept before pruning.");
ABSL_FLAG(absl::Duration, prune_interval, absl::Minutes(1),
          "How often finished events older than --event_retention are deleted.");
ABSL_FLAG(int, group_commit_max_events, 2000, "Most events one group commit writes.");
ABSL_FLAG(int, group_commits_in_flight, 2,
          "Group commits of the event log that may run at once, each on its own connection.");
ABSL_FLAG(absl::Duration, group_commit_delay, absl::ZeroDuration(),
          "How long the log writer waits for more calls before committing (0: commit what has "
          "arrived).");
ABSL_FLAG(int, max_pending_appends, 20000,
          "Events waiting for the log writer beyond which calls get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, workers, 2, "With --event_log=memory: worker threads running the handlers.");
ABSL_FLAG(int, queue_capacity, 65536,
          "With --event_log=memory: events the in-memory queue holds before refusing more.");
ABSL_FLAG(int, worker_batch_size, 256,
          "Most events a handler takes at once: per partition of the log it holds (durable "
          "log), or from the queue (memory).");
ABSL_FLAG(absl::Duration, worker_batch_linger, absl::Milliseconds(5),
          "With --event_log=memory: how long a worker waits to fill its batch (0: never).");
ABSL_FLAG(absl::Duration, handler_linger, absl::Milliseconds(20),
          "How long a handler lets events gather before reading again after a partial batch: "
          "a read costs about the same for 5 events as for 500 (0: never wait).");
ABSL_FLAG(int, query_threads, 2, "Threads serving ListTickets and GetTicket from PostgreSQL.");
ABSL_FLAG(int, max_tickets_per_call, 1000, "Most tickets one UpdateTicketsStatus call may carry.");
ABSL_FLAG(bool, require_idempotency_key, true,
          "Refuse UpdateTicketsStatus calls without an idempotency key.");
ABSL_FLAG(bool, accept_unknown_cancellations, false,
          "Accept a cancellation of a ticket never confirmed (by an earlier call or earlier in "
          "the same call). Off: it is refused (FAILED_PRECONDITION, REST 409) and nothing is "
          "published. On: for importing legacy cancellations, each then stored and refunded.");
ABSL_FLAG(absl::Duration, shutdown_timeout, absl::Seconds(5),
          "On SIGINT/SIGTERM, how long in-flight calls and queued events get to finish.");
ABSL_FLAG(std::string, receipts_url, "",
          "Base URL of the receipts API (PUT <url>/receipts); empty: the local receipts table.");
ABSL_FLAG(std::string, spreadsheets_url, "",
          "Base URL of the spreadsheets API (POST <url>/sheets/<sheet>/rows); empty: the local "
          "tracker_rows table.");
ABSL_FLAG(std::string, audit_sheet, "",
          "Sheet that also gets a row per confirmed ticket, from a handler of its own "
          "(AppendToAudit), e.g. for a finance team; empty: no such handler.");
ABSL_FLAG(std::string, jetstream_url, "",
          "NATS servers, comma-separated (nats://h1:4222,nats://h2:4222; tls:// for TLS): the "
          "PublishToJetStream handler then relays every event to JetStream. Empty: no relay.");
ABSL_FLAG(std::string, jetstream_stream, "TICKET_EVENTS",
          "The JetStream stream the relay publishes to (subjects tickets.v1.>), created if "
          "missing.");
ABSL_FLAG(int, jetstream_replicas, 3,
          "Replicas of the stream when the relay creates it (1 to 5; at most the servers).");
ABSL_FLAG(std::string, jetstream_credentials, "",
          "A NATS .creds file (user JWT and NKey seed) for the relay's connection; empty: none.");
ABSL_FLAG(std::string, jetstream_tls_ca, "",
          "CA certificate (PEM) the NATS servers' certificates are checked against; implies TLS.");
ABSL_FLAG(std::string, jetstream_tls_cert, "",
          "Client certificate (PEM) for mutual TLS with NATS, with --jetstream_tls_key.");
ABSL_FLAG(std::string, jetstream_tls_key, "", "Private key (PEM) of --jetstream_tls_cert.");
ABSL_FLAG(absl::Duration, jetstream_ack_timeout, absl::Seconds(5),
          "Longest the relay waits for JetStream to acknowledge a publish.");
ABSL_FLAG(int, jetstream_max_pending, 4096,
          "Publishes awaiting JetStream's acknowledgment at once, at most.");
ABSL_FLAG(absl::Duration, http_connect_timeout, absl::Seconds(2),
          "Longest a connection to an external API may take to open.");
ABSL_FLAG(absl::Duration, http_timeout, absl::Seconds(5),
          "Longest one call to an external API may take, connection included.");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain: with --tls_key_file, both ports serve TLS only.");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file.");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle: clients must present a certificate it signed (mutual TLS).");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "File of accepted bearer tokens, one per line with its scopes (write, read, admin, "
          "metrics), re-read on SIGHUP. Set: UpdateTicketsStatus and the admin RPCs need "
          "`authorization: Bearer <token>` with the write or admin scope.");
ABSL_FLAG(bool, auth_reads, false,
          "With --auth_tokens_file, ListTickets and GetTicket need a token with the read scope.");
ABSL_FLAG(bool, auth_metrics, false,
          "With --auth_tokens_file, GET /metrics needs a token with the metrics scope.");
ABSL_FLAG(int, max_message_bytes, 4 << 20, "Largest gRPC request message accepted.");
ABSL_FLAG(absl::Duration, grpc_keepalive_time, absl::Seconds(30),
          "Silence on a gRPC connection after which the server pings it; a peer that does not "
          "answer within --grpc_keepalive_timeout is dropped with its streams.");
ABSL_FLAG(absl::Duration, grpc_keepalive_timeout, absl::Seconds(10),
          "How long the server waits for the answer to its keepalive ping.");
ABSL_FLAG(absl::Duration, grpc_max_connection_idle, absl::Minutes(10),
          "A gRPC connection without calls for this long is closed (GOAWAY).");
ABSL_FLAG(absl::Duration, grpc_max_connection_age, absl::ZeroDuration(),
          "Every gRPC connection is closed after this long (GOAWAY, then "
          "--grpc_max_connection_age_grace for its calls), so clients rebalance; 0: never.");
ABSL_FLAG(absl::Duration, grpc_max_connection_age_grace, absl::Minutes(1),
          "After --grpc_max_connection_age, how long a connection's calls may go on.");
ABSL_FLAG(int, grpc_max_concurrent_streams, 1000,
          "Calls (streams) one gRPC connection may have open at once.");
ABSL_FLAG(int64_t, grpc_max_memory, 256 << 20,
          "Bytes that all gRPC connections' buffers may take together (gRPC's resource quota): "
          "beyond it the server reads less and refuses new calls.");
ABSL_FLAG(int, max_waiting_calls, 2000,
          "UpdateTicketsStatus calls that asked for STORED or COMPLETED and wait for the "
          "handlers, at most; beyond it such a call is refused (RESOURCE_EXHAUSTED) before "
          "anything is published.");
ABSL_FLAG(int64_t, max_call_bytes, 256 << 20,
          "Bytes of UpdateTicketsStatus requests held at once, from arrival to answer; beyond it "
          "a call is refused (RESOURCE_EXHAUSTED) before anything is published.");
ABSL_FLAG(
    int, max_concurrent_calls, 10000,
    "UpdateTicketsStatus calls waiting for their commit at once; beyond it RESOURCE_EXHAUSTED.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off.");
ABSL_FLAG(std::string, log_format, "json",
          "json (one object per line, for log shippers) or text (key=value, for people).");

namespace booking::app {
namespace {

// Names this process on the leases it takes: host, pid and a random part, so a restarted
// process never mistakes its predecessor's leases for its own.
std::string DefaultInstanceId() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat(host, "-", getpid(), "-", common::NewUuid().substr(0, 8));
}

absl::StatusOr<std::string> ReadFile(const char* flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (content.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": cannot read ", path));
  }
  return content;
}

absl::StatusOr<std::optional<TlsFiles>> TlsFromFlags() {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert_file);
  const std::string key = absl::GetFlag(FLAGS_tls_key_file);
  const std::string client_ca = absl::GetFlag(FLAGS_tls_client_ca_file);
  if (cert.empty() && key.empty()) {
    if (!client_ca.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca_file: needs --tls_cert_file and --tls_key_file");
    }
    return std::nullopt;
  }
  if (cert.empty() || key.empty()) {
    return absl::InvalidArgumentError("--tls_cert_file, --tls_key_file: set both or neither");
  }
  TlsFiles tls;
  absl::StatusOr<std::string> cert_pem = ReadFile("tls_cert_file", cert);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadFile("tls_key_file", key);
  if (!key_pem.ok()) return key_pem.status();
  tls.cert_chain = *std::move(cert_pem);
  tls.private_key = *std::move(key_pem);
  if (!client_ca.empty()) {
    absl::StatusOr<std::string> ca_pem = ReadFile("tls_client_ca_file", client_ca);
    if (!ca_pem.ok()) return ca_pem.status();
    tls.client_ca = *std::move(ca_pem);
  }
  return tls;
}

absl::StatusOr<storage::StartFrom> ParseStart(const char* flag, absl::string_view value) {
  if (value == "earliest") return storage::StartFrom::kEarliest;
  if (value == "latest") return storage::StartFrom::kLatest;
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, ": must be earliest or latest, got \"", value, "\""));
}

// --handler_start: "Name=earliest|latest,..." with names of this service's handlers.
absl::StatusOr<absl::flat_hash_map<std::string, storage::StartFrom>> ParseHandlerStarts(
    const std::string& value) {
  absl::flat_hash_map<std::string, storage::StartFrom> starts;
  const std::vector<std::string> known = handlers::AllHandlerNames();
  for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(absl::StripAsciiWhitespace(item), absl::MaxSplits('=', 1));
    if (std::find(known.begin(), known.end(), kv.first) == known.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--handler_start: unknown handler \"", kv.first,
                       "\" (known: ", absl::StrJoin(known, ", "), ")"));
    }
    absl::StatusOr<storage::StartFrom> start = ParseStart("handler_start", kv.second);
    if (!start.ok()) return start.status();
    starts[kv.first] = *start;
  }
  return starts;
}

absl::StatusOr<Role> ParseRole(const std::string& value) {
  if (value == "all") return Role::kAll;
  if (value == "api") return Role::kApi;
  if (value == "worker") return Role::kWorker;
  return absl::InvalidArgumentError(
      absl::StrCat("--role: must be all, api or worker, got \"", value, "\""));
}

// Flags are checked, never corrected: a value out of range is refused naming the flag, so the
// service never runs with a setting nobody gave it.
template <typename T>
std::string FlagName(const absl::Flag<T>& flag) {
  return absl::StrCat("--", absl::GetFlagReflectionHandle(flag).Name());
}
std::string Show(int64_t value) { return absl::StrCat(value); }
std::string Show(absl::Duration value) { return absl::FormatDuration(value); }
std::string Why(absl::string_view why) { return why.empty() ? "" : absl::StrCat(" (", why, ")"); }

template <typename T>
[[nodiscard]] absl::Status AtLeast(const absl::Flag<T>& flag, std::type_identity_t<T> floor,
                                   absl::string_view why = {}) {
  const T value = absl::GetFlag(flag);
  if (value >= floor) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(FlagName(flag), ": must be at least ", Show(floor),
                                                 Why(why), ", got ", Show(value)));
}

template <typename T>
[[nodiscard]] absl::Status InRange(const absl::Flag<T>& flag, std::type_identity_t<T> low,
                                   std::type_identity_t<T> high, absl::string_view why = {}) {
  const T value = absl::GetFlag(flag);
  if (value >= low && value <= high) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(FlagName(flag), ": must be ", Show(low), " to ",
                                                 Show(high), Why(why), ", got ", Show(value)));
}

// gRPC takes its durations as int milliseconds: 576h (24 days) keeps clear of INT_MAX.
constexpr absl::Duration kLongestGrpcDuration = absl::Hours(24 * 24);
constexpr absl::string_view kGrpcMilliseconds = "gRPC counts int milliseconds";

// Every flag with bounds, checked before any value is used. The bounds are the ones the flags
// already had as silent clamps, here or in the module behind them (libpq's and gRPC's conversions
// too), and --max_tickets_per_call's floor: below it every call would be refused.
absl::Status CheckBounds() {
  const absl::Status checks[] = {
      AtLeast(FLAGS_db_pool_size, 1),
      // libpq's connect_timeout is whole seconds, at least 2 (it reads 1 as 2).
      AtLeast(FLAGS_db_connect_timeout, absl::Seconds(2), "libpq's shortest"),
      AtLeast(FLAGS_group_commit_max_events, 1),
      AtLeast(FLAGS_group_commits_in_flight, 1),
      AtLeast(FLAGS_max_pending_appends, 1),
      AtLeast(FLAGS_delivery_lease, absl::Seconds(1)),
      AtLeast(FLAGS_breaker_failures, 1),
      AtLeast(FLAGS_api_concurrency, 1),
      // Every external call has a bound: libcurl reads 0 as "no timeout".
      AtLeast(FLAGS_http_connect_timeout, absl::Milliseconds(1)),
      AtLeast(FLAGS_http_timeout, absl::Milliseconds(1)),
      AtLeast(FLAGS_worker_batch_size, 1),
      AtLeast(FLAGS_workers, 1),
      AtLeast(FLAGS_queue_capacity, 1),
      AtLeast(FLAGS_max_message_bytes, 1024),
      InRange(FLAGS_grpc_keepalive_time, absl::Milliseconds(1), kLongestGrpcDuration,
              kGrpcMilliseconds),
      InRange(FLAGS_grpc_keepalive_timeout, absl::Milliseconds(1), kLongestGrpcDuration,
              kGrpcMilliseconds),
      InRange(FLAGS_grpc_max_connection_idle, absl::Milliseconds(1), kLongestGrpcDuration,
              kGrpcMilliseconds),
      absl::GetFlag(FLAGS_grpc_max_connection_age) == absl::ZeroDuration()  // 0: never
          ? absl::OkStatus()
          : InRange(FLAGS_grpc_max_connection_age, absl::Milliseconds(1), kLongestGrpcDuration,
                    kGrpcMilliseconds),
      InRange(FLAGS_grpc_max_connection_age_grace, absl::Milliseconds(1), kLongestGrpcDuration,
              kGrpcMilliseconds),
      AtLeast(FLAGS_grpc_max_concurrent_streams, 1),
      AtLeast(FLAGS_grpc_max_memory, int64_t{16} << 20),
      AtLeast(FLAGS_http_threads, 1),
      AtLeast(FLAGS_max_http_connections, 1),
      AtLeast(FLAGS_max_http_body_bytes, 1),
      AtLeast(FLAGS_max_http_body_memory, 1),
      AtLeast(FLAGS_max_tickets_per_call, 1),
      AtLeast(FLAGS_max_concurrent_calls, 1),
      AtLeast(FLAGS_max_waiting_calls, 1),
      AtLeast(FLAGS_max_call_bytes, int64_t{1} << 20),
      AtLeast(FLAGS_max_watch_streams_per_client, 1),
      AtLeast(FLAGS_max_watch_streams, 1),
      AtLeast(FLAGS_watch_buffer, 1),
      AtLeast(FLAGS_query_threads, 1),
  };
  for (const absl::Status& check : checks) {
    if (!check.ok()) return check;
  }
  if (absl::GetFlag(FLAGS_db_connect_timeout) % absl::Seconds(1) != absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--db_connect_timeout: must be whole seconds (libpq's unit), got ",
                     absl::FormatDuration(absl::GetFlag(FLAGS_db_connect_timeout))));
  }
  return absl::OkStatus();
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kAll:
      return "all";
    case Role::kApi:
      return "api";
    case Role::kWorker:
      return "worker";
  }
  return "?";
}

absl::StatusOr<Config> FromFlags() {
  if (absl::Status bounds = CheckBounds(); !bounds.ok()) return bounds;
  Config config;

  // Database.
  std::string database_url = absl::GetFlag(FLAGS_database_url);
  if (database_url.empty()) {
    if (const char* env = std::getenv("DATABASE_URL"); env != nullptr) database_url = env;
  }
  if (database_url.empty()) {
    return absl::InvalidArgumentError("--database_url: not set (nor DATABASE_URL)");
  }
  const absl::Duration statement_timeout = absl::GetFlag(FLAGS_db_statement_timeout);
  absl::Duration transaction_timeout = absl::GetFlag(FLAGS_db_transaction_timeout);
  if (transaction_timeout == absl::ZeroDuration()) {
    transaction_timeout = statement_timeout + absl::Seconds(5);
  } else if (transaction_timeout < statement_timeout) {
    return absl::InvalidArgumentError(
        absl::StrCat("--db_transaction_timeout: must be at least --db_statement_timeout (",
                     absl::FormatDuration(statement_timeout), "), got ",
                     absl::FormatDuration(transaction_timeout)));
  }
  config.pool = {.database_url = database_url,
                 .size = absl::GetFlag(FLAGS_db_pool_size),
                 .connect_timeout = absl::GetFlag(FLAGS_db_connect_timeout),
                 .statement_timeout = statement_timeout,
                 .transaction_timeout = transaction_timeout,
                 .prepared_statements = storage::AllPreparedStatements()};
  // Health checks get a connection of their own: behind a busy workload they would wait for a
  // free one and report NOT_SERVING while the database is fine. A check that gets no answer in
  // 3 s reports NOT_SERVING, whatever the network does. Its statement timeout is derived, not
  // given: --db_statement_timeout bounded by those 2 s.
  config.health_pool = {.database_url = database_url,
                        .size = 1,
                        .connect_timeout = absl::GetFlag(FLAGS_db_connect_timeout),
                        .statement_timeout = std::min(absl::Seconds(2), statement_timeout),
                        .acquire_timeout = absl::Seconds(2)};
  config.health_pool.transaction_timeout = config.health_pool.statement_timeout + absl::Seconds(1);
  config.db_startup_timeout = absl::GetFlag(FLAGS_db_startup_timeout);

  // The event log.
  const std::string log_kind = absl::GetFlag(FLAGS_event_log);
  if (log_kind == "postgres") {
    config.event_log = EventLogKind::kPostgres;
  } else if (log_kind == "memory") {
    config.event_log = EventLogKind::kMemory;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--event_log: must be postgres or memory, got \"", log_kind, "\""));
  }
  absl::StatusOr<Role> role = ParseRole(absl::GetFlag(FLAGS_role));
  if (!role.ok()) return role.status();
  config.role = *role;
  if (config.role != Role::kAll && config.event_log != EventLogKind::kPostgres) {
    // Instances share work only through the database.
    return absl::InvalidArgumentError(
        absl::StrCat("--role: ", RoleName(config.role), " needs --event_log=postgres"));
  }
  absl::StatusOr<storage::StartFrom> start =
      ParseStart("new_handler_start", absl::GetFlag(FLAGS_new_handler_start));
  if (!start.ok()) return start.status();
  config.new_handler_start = *start;
  absl::StatusOr<absl::flat_hash_map<std::string, storage::StartFrom>> starts =
      ParseHandlerStarts(absl::GetFlag(FLAGS_handler_start));
  if (!starts.ok()) return starts.status();
  config.handler_start = *std::move(starts);
  if (absl::GetFlag(FLAGS_event_retention) < absl::Hours(24)) {
    // The API promises that a key never publishes twice for at least 24 hours.
    return absl::InvalidArgumentError(
        absl::StrCat("--event_retention: must be at least 24h (idempotency keys are kept that "
                     "long), got ",
                     absl::FormatDuration(absl::GetFlag(FLAGS_event_retention))));
  }
  config.instance_id = absl::GetFlag(FLAGS_instance_id);
  if (config.instance_id.empty()) config.instance_id = DefaultInstanceId();
  config.log_writer = {
      .max_batch_events = static_cast<size_t>(absl::GetFlag(FLAGS_group_commit_max_events)),
      .max_delay = absl::GetFlag(FLAGS_group_commit_delay),
      .max_pending_events = static_cast<size_t>(absl::GetFlag(FLAGS_max_pending_appends)),
      .writers = absl::GetFlag(FLAGS_group_commits_in_flight)};
  config.delivery_lease = absl::GetFlag(FLAGS_delivery_lease);
  config.api_concurrency = absl::GetFlag(FLAGS_api_concurrency);
  config.lanes.batch_per_partition = absl::GetFlag(FLAGS_worker_batch_size);
  config.lanes.poll_interval = absl::GetFlag(FLAGS_handler_poll_interval);
  config.lanes.linger = absl::GetFlag(FLAGS_handler_linger);
  config.lanes.redelivery_lease = config.delivery_lease;
  config.lanes.call_chunk = config.api_concurrency;
  config.lanes.retry = {.first_delay = absl::GetFlag(FLAGS_retry_first_delay),
                        .max_delay = absl::GetFlag(FLAGS_retry_max_delay),
                        .retry_for = absl::GetFlag(FLAGS_retry_for),
                        .breaker_failures = absl::GetFlag(FLAGS_breaker_failures)};
  config.pruner = {.retention = absl::GetFlag(FLAGS_event_retention),
                   .interval = absl::GetFlag(FLAGS_prune_interval)};
  config.queue_capacity = static_cast<size_t>(absl::GetFlag(FLAGS_queue_capacity));
  config.workers.threads = absl::GetFlag(FLAGS_workers);
  config.workers.batch_size = static_cast<size_t>(absl::GetFlag(FLAGS_worker_batch_size));
  config.workers.linger = absl::GetFlag(FLAGS_worker_batch_linger);

  // External APIs.
  config.receipts_url = absl::GetFlag(FLAGS_receipts_url);
  config.spreadsheets_url = absl::GetFlag(FLAGS_spreadsheets_url);
  config.audit_sheet = absl::GetFlag(FLAGS_audit_sheet);
  if (const std::string url = absl::GetFlag(FLAGS_jetstream_url); !url.empty()) {
    clients::NatsJetStreamOptions jetstream;
    for (absl::string_view server : absl::StrSplit(url, ',', absl::SkipWhitespace())) {
      jetstream.servers.emplace_back(absl::StripAsciiWhitespace(server));
    }
    jetstream.stream = absl::GetFlag(FLAGS_jetstream_stream);
    jetstream.replicas = absl::GetFlag(FLAGS_jetstream_replicas);
    // A re-publish (a restart after a crash, a replay) of any event still in the log is
    // dropped by the stream: the window covers the log's retention.
    jetstream.duplicate_window = absl::GetFlag(FLAGS_event_retention);
    jetstream.credentials_file = absl::GetFlag(FLAGS_jetstream_credentials);
    jetstream.tls_ca_file = absl::GetFlag(FLAGS_jetstream_tls_ca);
    jetstream.tls_cert_file = absl::GetFlag(FLAGS_jetstream_tls_cert);
    jetstream.tls_key_file = absl::GetFlag(FLAGS_jetstream_tls_key);
    jetstream.ack_timeout = absl::GetFlag(FLAGS_jetstream_ack_timeout);
    jetstream.max_pending = absl::GetFlag(FLAGS_jetstream_max_pending);
    // Checked only with a relay: without one these flags mean nothing.
    if (absl::Status ack = AtLeast(FLAGS_jetstream_ack_timeout, absl::Milliseconds(1)); !ack.ok()) {
      return ack;
    }
    if (absl::Status pending = AtLeast(FLAGS_jetstream_max_pending, 1); !pending.ok()) {
      return pending;
    }
    if (absl::Status valid = clients::ValidateNatsJetStreamOptions(jetstream); !valid.ok()) {
      return valid;
    }
    config.jetstream = std::move(jetstream);
  }
  config.http_client = {.connect_timeout = absl::GetFlag(FLAGS_http_connect_timeout),
                        .total_timeout = absl::GetFlag(FLAGS_http_timeout)};

  // The ports.
  config.grpc_addr = absl::GetFlag(FLAGS_grpc_addr);
  config.ready_file = absl::GetFlag(FLAGS_ready_file);
  config.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  config.grpc = {.keepalive_time = absl::GetFlag(FLAGS_grpc_keepalive_time),
                 .keepalive_timeout = absl::GetFlag(FLAGS_grpc_keepalive_timeout),
                 .max_connection_idle = absl::GetFlag(FLAGS_grpc_max_connection_idle),
                 .max_connection_age = absl::GetFlag(FLAGS_grpc_max_connection_age),
                 .max_connection_age_grace = absl::GetFlag(FLAGS_grpc_max_connection_age_grace),
                 .max_concurrent_streams = absl::GetFlag(FLAGS_grpc_max_concurrent_streams),
                 .memory_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_grpc_max_memory))};
  absl::StatusOr<std::optional<TlsFiles>> tls = TlsFromFlags();
  if (!tls.ok()) return tls.status();
  config.tls = *std::move(tls);
  config.http = {
      .address = absl::GetFlag(FLAGS_http_addr),
      .threads = absl::GetFlag(FLAGS_http_threads),
      .max_body_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_http_body_bytes)),
      .read_timeout = absl::GetFlag(FLAGS_http_read_timeout),
      .idle_timeout = absl::GetFlag(FLAGS_http_idle_timeout),
      .max_connections = absl::GetFlag(FLAGS_max_http_connections),
      .max_body_memory_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_http_body_memory)),
      .tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file),
      .tls_key_file = absl::GetFlag(FLAGS_tls_key_file),
      .tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file),
      .error_body = rest::RefusalJson};  // refusals read as every other REST error
  config.http_call_timeout = absl::GetFlag(FLAGS_http_call_timeout);
  config.browser = {.allowed_hosts = absl::GetFlag(FLAGS_http_allowed_hosts),
                    .allowed_origins = absl::GetFlag(FLAGS_http_allowed_origins)};
  for (const std::string& origin : config.browser.allowed_origins) {
    if (origin != "*" && !absl::StartsWith(origin, "http://") &&
        !absl::StartsWith(origin, "https://")) {
      return absl::InvalidArgumentError(absl::StrCat("--http_allowed_origins: \"", origin,
                                                     "\" is not an origin (scheme://host[:port])"));
    }
  }
  config.stream_heartbeat = absl::GetFlag(FLAGS_sse_heartbeat) > absl::ZeroDuration()
                                ? absl::GetFlag(FLAGS_sse_heartbeat)
                                : absl::GetFlag(FLAGS_stream_heartbeat);

  // Authentication.
  config.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens_file);
  if (!config.auth_tokens_file.empty()) {
    if (absl::Status readable = ReadFile("auth_tokens_file", config.auth_tokens_file).status();
        !readable.ok()) {
      return readable;
    }
  }
  config.auth_metrics = absl::GetFlag(FLAGS_auth_metrics);

  // The service.
  server::BookingServiceOptions& service = config.service;
  service.limits.max_tickets_per_call = absl::GetFlag(FLAGS_max_tickets_per_call);
  service.require_idempotency_key = absl::GetFlag(FLAGS_require_idempotency_key);
  config.accept_unknown_cancellations = absl::GetFlag(FLAGS_accept_unknown_cancellations);
  service.auth_reads = absl::GetFlag(FLAGS_auth_reads);
  service.max_concurrent_calls = absl::GetFlag(FLAGS_max_concurrent_calls);
  service.max_waiting_calls = absl::GetFlag(FLAGS_max_waiting_calls);
  service.max_call_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_call_bytes));
  service.max_watch_streams_per_client =
      static_cast<size_t>(absl::GetFlag(FLAGS_max_watch_streams_per_client));
  service.max_watch_streams = static_cast<size_t>(absl::GetFlag(FLAGS_max_watch_streams));
  service.max_wait = absl::GetFlag(FLAGS_max_wait);
  config.watch_buffer = static_cast<size_t>(absl::GetFlag(FLAGS_watch_buffer));
  config.query_threads = absl::GetFlag(FLAGS_query_threads);
  config.shutdown_timeout = absl::GetFlag(FLAGS_shutdown_timeout);
  return config;
}

}  // namespace booking::app
