// booking-server: wiring only. Reads flags, builds the objects and connects them, runs until
// SIGINT/SIGTERM, then shuts down in order. Logic lives in the classes it builds.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/token_authenticator.h"
#include "clients/call_pool.h"
#include "clients/http_client.h"
#include "clients/http_receipts_api.h"
#include "clients/http_spreadsheets_api.h"
#include "common/logging.h"
#include "common/uuid.h"
#include "delivery/durable_event_log.h"
#include "delivery/event_pruner.h"
#include "delivery/lane_pool.h"
#include "delivery/lease_keeper.h"
#include "handlers/append_to_sheet.h"
#include "handlers/issue_receipt.h"
#include "handlers/remove_canceled_ticket.h"
#include "handlers/store_tickets.h"
#include "metrics/metrics.h"
#include "pipeline/delivery_runner.h"
#include "pipeline/event_queue.h"
#include "pipeline/memory_event_log.h"
#include "pipeline/router.h"
#include "pipeline/worker_pool.h"
#include "rest/http_gateway.h"
#include "rest/http_server.h"
#include "rest/json_transcoder.h"
#include "rest/openapi.h"
#include "server/admin_service.h"
#include "server/booking_service.h"
#include "server/call_observer.h"
#include "server/completion_waiter.h"
#include "server/database_health.h"
#include "server/query_executor.h"
#include "server/watch_hub.h"
#include "spdlog/spdlog.h"
#include "storage/connection_pool.h"
#include "storage/migrations.h"
#include "storage/pg_event_store.h"
#include "storage/pg_handler_log.h"
#include "storage/pg_progress_reader.h"
#include "storage/pg_receipt_repository.h"
#include "storage/pg_statements.h"
#include "storage/pg_step_log.h"
#include "storage/pg_ticket_repository.h"
#include "storage/pg_tracker_repository.h"
#include "tickets/v1/events.pb.h"

ABSL_FLAG(std::string, grpc_addr, "127.0.0.1:50051", "Address the gRPC API listens on.");
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
ABSL_FLAG(absl::Duration, http_call_timeout, absl::Seconds(30),
          "Deadline of the gRPC call behind one HTTP request.");
ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL URL (libpq syntax); when empty, the DATABASE_URL environment variable.");
ABSL_FLAG(int, db_pool_size, 8, "PostgreSQL connections in the pool.");
ABSL_FLAG(absl::Duration, max_wait, absl::Seconds(10),
          "Longest an UpdateTicketsStatus call that asks for STORED or COMPLETED waits for the "
          "handlers (also bounded by its deadline); reaching it is not an error.");
ABSL_FLAG(absl::Duration, sse_heartbeat, absl::Seconds(15),
          "Silence after which a Server-Sent Events stream gets a comment line, so proxies keep "
          "it and a client that went away is noticed.");
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
ABSL_FLAG(absl::Duration, shutdown_timeout, absl::Seconds(5),
          "On SIGINT/SIGTERM, how long in-flight calls and queued events get to finish.");
ABSL_FLAG(std::string, receipts_url, "",
          "Base URL of the receipts API (PUT <url>/receipts); empty: the local receipts table.");
ABSL_FLAG(std::string, spreadsheets_url, "",
          "Base URL of the spreadsheets API (POST <url>/sheets/<sheet>/rows); empty: the local "
          "tracker_rows table.");
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
ABSL_FLAG(
    int, max_concurrent_calls, 10000,
    "UpdateTicketsStatus calls waiting for their commit at once; beyond it RESOURCE_EXHAUSTED.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off.");
ABSL_FLAG(std::string, log_format, "json",
          "json (one object per line, for log shippers) or text (key=value, for people).");

namespace booking::server {
namespace {

constexpr char kServiceName[] = "tickets.v1.BookingService";
constexpr char kAdminServiceName[] = "tickets.v1.AdminService";

// Names this process on the leases it takes: host, pid and a random part, so a restarted
// process never mistakes its predecessor's leases for its own.
std::string InstanceId() {
  std::string id = absl::GetFlag(FLAGS_instance_id);
  if (!id.empty()) return id;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat(host, "-", getpid(), "-", workers::NewUuid().substr(0, 8));
}

std::string DatabaseUrl() {
  std::string url = absl::GetFlag(FLAGS_database_url);
  if (url.empty()) {
    if (const char* env = std::getenv("DATABASE_URL"); env != nullptr) url = env;
  }
  return url;
}

// Start-up waits for the database (it may be starting too), within --db_startup_timeout.
absl::Status WaitForDatabase(storage::ConnectionPool& pool) {
  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_db_startup_timeout);
  while (true) {
    absl::Status status = pool.Warm();
    if (status.ok()) return status;
    if (absl::Now() + absl::Seconds(1) > deadline) return status;
    spdlog::warn("waiting for postgres error={}", LogValue(status.message()));
    absl::SleepFor(absl::Seconds(1));
  }
}

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (content.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  }
  return content;
}

// TLS credentials for the gRPC port from the --tls_* flags, or insecure ones when none is set.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcCredentials() {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert_file);
  const std::string key = absl::GetFlag(FLAGS_tls_key_file);
  const std::string client_ca = absl::GetFlag(FLAGS_tls_client_ca_file);
  if (cert.empty() && key.empty()) {
    if (!client_ca.empty()) {
      return absl::InvalidArgumentError(
          "tls_client_ca_file: needs --tls_cert_file and --tls_key_file");
    }
    return grpc::InsecureServerCredentials();
  }
  if (cert.empty() || key.empty()) {
    return absl::InvalidArgumentError("tls_cert_file, tls_key_file: set both or neither");
  }
  grpc::SslServerCredentialsOptions options(
      client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                        : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  absl::StatusOr<std::string> cert_pem = ReadFile("tls_cert_file", cert);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadFile("tls_key_file", key);
  if (!key_pem.ok()) return key_pem.status();
  pair.cert_chain = *std::move(cert_pem);
  pair.private_key = *std::move(key_pem);
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!client_ca.empty()) {
    absl::StatusOr<std::string> ca_pem = ReadFile("tls_client_ca_file", client_ca);
    if (!ca_pem.ok()) return ca_pem.status();
    options.pem_root_certs = *std::move(ca_pem);
  }
  return grpc::SslServerCredentials(options);
}

// Blocks until SIGINT or SIGTERM (blocked in every thread, see Run) and returns its number;
// runs `on_hangup` for each SIGHUP meanwhile.
int WaitForStopSignal(const sigset_t& signals, const std::function<void()>& on_hangup) {
  while (true) {
    timespec timeout{1, 0};
    const int signal = sigtimedwait(&signals, nullptr, &timeout);
    if (signal == SIGHUP) {
      on_hangup();
    } else if (signal > 0) {
      return signal;
    }
  }
}

// Each HTTP connection, gRPC connection and PostgreSQL connection is a descriptor; the usual soft
// limit of 1024 would run out below max_http_connections. The hard limit is the operator's.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    spdlog::info("open file limit raised from={} to={}", before, limit.rlim_cur);
  }
}

int Run() {
  // Block the stop signals before any thread starts, so all threads inherit the mask and only
  // WaitForStopSignal receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);  // reloads the token file
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  if (absl::Status status =
          InitLogging(absl::GetFlag(FLAGS_log_level), absl::GetFlag(FLAGS_log_format));
      !status.ok()) {
    std::fprintf(stderr, "booking-server: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  RaiseOpenFileLimit();
  if (absl::GetFlag(FLAGS_event_retention) < absl::Hours(24)) {
    // The API promises that a key never publishes twice for at least 24 hours.
    spdlog::critical(
        "event_retention: must be at least 24h (idempotency keys are kept that long), "
        "got {}",
        absl::FormatDuration(absl::GetFlag(FLAGS_event_retention)));
    return 2;
  }
  const std::string database_url = DatabaseUrl();
  if (database_url.empty()) {
    spdlog::critical("no database: set --database_url or DATABASE_URL");
    return 2;
  }

  const absl::Duration statement_timeout = absl::GetFlag(FLAGS_db_statement_timeout);
  absl::Duration transaction_timeout = absl::GetFlag(FLAGS_db_transaction_timeout);
  if (transaction_timeout == absl::ZeroDuration()) {
    transaction_timeout = statement_timeout + absl::Seconds(5);
  } else if (transaction_timeout < statement_timeout) {
    spdlog::critical("db_transaction_timeout: must be at least db_statement_timeout ({}), got {}",
                     absl::FormatDuration(statement_timeout),
                     absl::FormatDuration(transaction_timeout));
    return 2;
  }
  storage::PoolOptions pool_options;
  pool_options.database_url = database_url;
  pool_options.transaction_timeout = transaction_timeout;
  pool_options.size = absl::GetFlag(FLAGS_db_pool_size);
  pool_options.statement_timeout = absl::GetFlag(FLAGS_db_statement_timeout);
  pool_options.connect_timeout = absl::GetFlag(FLAGS_db_connect_timeout);
  pool_options.prepared_statements = storage::AllPreparedStatements();
  storage::ConnectionPool pool(pool_options);
  // Health checks get a connection of their own: behind a busy workload they would wait for a
  // free one and report NOT_SERVING while the database is fine.
  storage::PoolOptions health_options;
  health_options.database_url = database_url;
  health_options.size = 1;
  health_options.connect_timeout = absl::GetFlag(FLAGS_db_connect_timeout);
  health_options.statement_timeout = std::min(absl::Seconds(2), pool_options.statement_timeout);
  health_options.acquire_timeout = absl::Seconds(2);
  // A check that gets no answer in 3 s reports NOT_SERVING, whatever the network does.
  health_options.transaction_timeout = health_options.statement_timeout + absl::Seconds(1);
  storage::ConnectionPool health_pool(health_options);
  metrics::Metrics metrics;
  std::unique_ptr<TokenAuthenticator> auth;
  if (const std::string path = absl::GetFlag(FLAGS_auth_tokens_file); !path.empty()) {
    absl::StatusOr<std::unique_ptr<TokenAuthenticator>> loaded = TokenAuthenticator::FromFile(path);
    if (!loaded.ok()) {
      spdlog::critical("{}", std::string(loaded.status().message()));
      return 2;
    }
    auth = *std::move(loaded);
    spdlog::info("bearer tokens required auth_tokens_file={}", path);
  }
  metrics.AddGauge("booking_db_pool_connections", "PostgreSQL connections in the pool.",
                   [&pool] { return pool.stats().size; });
  metrics.AddGauge("booking_db_pool_in_use", "PostgreSQL connections checked out now.",
                   [&pool] { return pool.stats().in_use; });
  metrics.AddGauge("booking_db_pool_idle", "PostgreSQL connections open and idle now.", [&pool] {
    const storage::PoolStats stats = pool.stats();
    return stats.open - stats.in_use;
  });
  metrics.AddGauge("booking_db_pool_waits", "Checkouts that found no idle connection (total).",
                   [&pool] { return static_cast<double>(pool.stats().waits); });
  spdlog::info("connecting to postgres database_url={} pool_size={}",
               LogValue(storage::RedactDatabaseUrl(database_url)), pool_options.size);
  if (absl::Status status = WaitForDatabase(pool); !status.ok()) {
    spdlog::critical("postgres unreachable error={}", LogValue(status.message()));
    return 1;
  }
  if (absl::StatusOr<int> applied = storage::Migrate(pool); !applied.ok()) {
    spdlog::critical("migrations failed error={}", LogValue(applied.status().message()));
    return 1;
  }
  storage::PgTicketRepository tickets(pool);

  // The in-memory log numbers events after everything already stored, so rows written before a
  // restart are not mistaken for newer.
  absl::StatusOr<int64_t> max_sequence = tickets.MaxEventSequence();
  if (!max_sequence.ok()) {
    spdlog::critical("reading the last event sequence failed error={}",
                     LogValue(max_sequence.status().message()));
    return 1;
  }

  // External APIs when their URL is set, the local tables otherwise.
  storage::PgReceiptRepository receipt_table(pool);
  storage::PgTrackerRepository tracker_table(pool);
  workers::HttpClient http({.connect_timeout = absl::GetFlag(FLAGS_http_connect_timeout),
                            .total_timeout = absl::GetFlag(FLAGS_http_timeout),
                            .metrics = &metrics});
  // One bounded set of threads per external API: its calls are all in flight at once.
  const int api_concurrency = std::max(1, absl::GetFlag(FLAGS_api_concurrency));
  std::unique_ptr<workers::CallPool> receipt_calls, sheet_calls;
  std::unique_ptr<workers::ReceiptsApi> receipts;
  if (const std::string url = absl::GetFlag(FLAGS_receipts_url); !url.empty()) {
    receipt_calls = std::make_unique<workers::CallPool>(api_concurrency, "receipts");
    receipts = std::make_unique<workers::HttpReceiptsApi>(http, url, receipt_calls.get());
    spdlog::info("receipts go to the receipts API receipts_url={}",
                 LogValue(workers::RedactUrl(url)));
  } else {
    receipts = std::make_unique<workers::LocalReceiptsApi>(receipt_table);
    spdlog::info("receipts go to the local receipts table");
  }
  std::unique_ptr<workers::SpreadsheetsApi> spreadsheets;
  if (const std::string url = absl::GetFlag(FLAGS_spreadsheets_url); !url.empty()) {
    sheet_calls = std::make_unique<workers::CallPool>(api_concurrency, "sheets");
    spreadsheets = std::make_unique<workers::HttpSpreadsheetsApi>(http, url, sheet_calls.get());
    spdlog::info("tracker rows go to the spreadsheets API spreadsheets_url={}",
                 LogValue(workers::RedactUrl(url)));
  } else {
    spreadsheets = std::make_unique<workers::LocalSpreadsheetsApi>(tracker_table);
    spdlog::info("tracker rows go to the local tracker_rows table");
  }

  workers::EventQueue queue(static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_queue_capacity))));
  workers::StoreTickets store_tickets(tickets);
  workers::IssueReceipt issue_receipt(*receipts);
  workers::AppendToSheet append_to_tracker(
      "AppendToTracker", std::string(workers::kTicketsToPrintSheet), *spreadsheets);
  workers::RemoveCanceledTicket remove_canceled_ticket(tickets);
  workers::AppendToSheet append_to_refund(
      "AppendToRefund", std::string(workers::kTicketsToRefundSheet), *spreadsheets);
  const std::string confirmed = tickets::v1::TicketBookingConfirmed::descriptor()->full_name();
  const std::string canceled = tickets::v1::TicketBookingCanceled::descriptor()->full_name();
  metrics.AddGauge("booking_queue_depth", "Events in the in-memory queue (or reserved for it).",
                   [&queue] { return static_cast<double>(queue.size()); });
  metrics.AddGauge("booking_queue_capacity", "Events the in-memory queue holds at most.",
                   [&queue] { return static_cast<double>(queue.capacity()); });
  workers::Router router;
  router.set_metrics(&metrics);
  for (auto [type, handler] : std::initializer_list<std::pair<std::string, workers::Handler*>>{
           {confirmed, &store_tickets},
           {confirmed, &issue_receipt},
           {confirmed, &append_to_tracker},
           {canceled, &remove_canceled_ticket},
           {canceled, &append_to_refund}}) {
    router.Register(type, handler);
  }

  const std::string log_kind = absl::GetFlag(FLAGS_event_log);
  if (log_kind != "postgres" && log_kind != "memory") {
    spdlog::critical("event_log: must be postgres or memory, got {}", LogValue(log_kind));
    return 2;
  }
  const bool durable = log_kind == "postgres";
  const std::string instance_id = InstanceId();
  storage::PgEventStore event_store(pool);
  storage::PgHandlerLog handler_log(pool);

  // The in-memory log: a queue drained by worker threads.
  workers::DeliveryRunner runner(router, &metrics);
  workers::WorkerPoolOptions worker_options;
  worker_options.threads = absl::GetFlag(FLAGS_workers);
  worker_options.batch_size =
      static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_worker_batch_size)));
  worker_options.linger = absl::GetFlag(FLAGS_worker_batch_linger);
  workers::WorkerPool worker_pool(
      queue, [&runner](std::vector<workers::Event>& batch) { runner.Run(batch); }, worker_options);

  // The durable log: each handler consumes it in its own lane, over the partitions this
  // instance leases.
  const absl::Duration lease = std::max(absl::Seconds(1), absl::GetFlag(FLAGS_delivery_lease));
  workers::LeaseKeeper keeper(handler_log, {.owner = instance_id,
                                            .lease = lease,
                                            .renew_interval = lease / 3,
                                            .partitions = storage::kLogPartitions});
  // Calls that ask to read their writes wait here for the handlers (durable log only: the
  // in-memory one keeps no progress to read).
  storage::PgProgressReader progress_reader(pool);
  std::unique_ptr<CompletionWaiter> waiter;
  if (durable) {
    waiter = std::make_unique<CompletionWaiter>(
        progress_reader, std::vector<std::string>{std::string(store_tickets.name()),
                                                  std::string(remove_canceled_ticket.name())});
    waiter->Start();
  }
  // WatchTickets streams (durable log only: steps are rows of the shared database).
  storage::PgStepLog step_log(pool);
  std::unique_ptr<WatchHub> watch;
  if (durable) {
    watch = std::make_unique<WatchHub>(
        step_log, WatchOptions{.buffer = static_cast<size_t>(
                                   std::max(1, absl::GetFlag(FLAGS_watch_buffer)))});
    watch->Start();
  }
  workers::LaneOptions lane_options;
  lane_options.batch_per_partition = std::max(1, absl::GetFlag(FLAGS_worker_batch_size));
  lane_options.poll_interval = absl::GetFlag(FLAGS_handler_poll_interval);
  lane_options.linger = absl::GetFlag(FLAGS_handler_linger);
  lane_options.redelivery_lease = lease;
  lane_options.call_chunk = api_concurrency;
  if (waiter != nullptr) {
    lane_options.on_progress = [w = waiter.get(), h = watch.get()] {
      w->Wake();
      h->Wake();
    };
  }
  lane_options.retry = {.first_delay = absl::GetFlag(FLAGS_retry_first_delay),
                        .max_delay = absl::GetFlag(FLAGS_retry_max_delay),
                        .retry_for = absl::GetFlag(FLAGS_retry_for),
                        .breaker_failures = absl::GetFlag(FLAGS_breaker_failures)};
  std::unique_ptr<workers::LanePool> lanes;

  std::unique_ptr<workers::EventLog> event_log;
  std::unique_ptr<workers::EventPruner> pruner;
  if (durable) {
    lanes =
        std::make_unique<workers::LanePool>(router, handler_log, keeper, lane_options, &metrics);
    keeper.Start([&lanes] { lanes->Wake(); });
    if (absl::Status status = lanes->Start(storage::StartFrom::kEarliest); !status.ok()) {
      spdlog::critical("registering handlers failed error={}", LogValue(status.ToString()));
      return 1;
    }
    event_log = std::make_unique<workers::PgEventLog>(
        event_store,
        workers::PgEventLogOptions{
            .max_batch_events =
                static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_group_commit_max_events))),
            .max_delay = absl::GetFlag(FLAGS_group_commit_delay),
            .max_pending_events =
                static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_max_pending_appends))),
            .writers = absl::GetFlag(FLAGS_group_commits_in_flight),
            .metrics = &metrics,
            .on_commit = [&lanes](const auto& types) { lanes->Wake(types); }});
    pruner = std::make_unique<workers::EventPruner>(
        event_store, workers::EventPrunerOptions{.retention = absl::GetFlag(FLAGS_event_retention),
                                                 .interval = absl::GetFlag(FLAGS_prune_interval)});
  } else {
    worker_pool.Start();
    workers::MemoryEventLogOptions log_options;
    log_options.first_sequence = *max_sequence + 1;
    log_options.metrics = &metrics;
    event_log = std::make_unique<workers::MemoryEventLog>(queue, log_options);
  }

  QueryExecutor reads(absl::GetFlag(FLAGS_query_threads), /*max_pending=*/1024);
  BookingServiceOptions service_options;
  service_options.limits.max_tickets_per_call = absl::GetFlag(FLAGS_max_tickets_per_call);
  service_options.require_idempotency_key = absl::GetFlag(FLAGS_require_idempotency_key);
  service_options.metrics = &metrics;
  service_options.auth = auth.get();
  service_options.auth_reads = absl::GetFlag(FLAGS_auth_reads);
  service_options.max_concurrent_calls = std::max(1, absl::GetFlag(FLAGS_max_concurrent_calls));
  service_options.waiter = waiter.get();
  service_options.watch = watch.get();
  service_options.max_watch_streams =
      static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_max_watch_streams)));
  service_options.max_wait = absl::GetFlag(FLAGS_max_wait);
  // Set by the health check; only the durable log needs the database to accept a call.
  std::atomic<bool> database_reachable{true};
  if (durable) service_options.database_reachable = &database_reachable;
  BookingService service(*event_log, tickets, reads, service_options);
  AdminService admin(event_store, reads, auth.get());
  if (lanes != nullptr) {
    admin.set_handler_status([&lanes, &keeper, instance_id] {
      tickets::v1::GetHandlerStatusResponse response;
      response.set_instance_id(instance_id);
      response.set_partitions_held(keeper.held());
      for (const workers::HandlerStatus& status : lanes->Status()) {
        tickets::v1::HandlerStatus* out = response.add_handlers();
        out->set_handler(status.handler);
        out->set_lag(status.lag);
        out->set_in_flight(status.in_flight);
        out->set_retry_backlog(status.retry_backlog);
        static constexpr const char* kBreaker[] = {"closed", "open", "half-open"};
        out->set_breaker(kBreaker[static_cast<int>(status.breaker)]);
        out->set_succeeded(status.succeeded);
        out->set_dead_lettered(status.dead_lettered);
        out->set_retried(status.retried);
        out->set_redelivered(status.redelivered);
        out->set_stale_commits(status.stale_commits);
        out->set_last_error(status.last_error);
        if (status.last_error_at != absl::InfinitePast()) {
          const int64_t micros = absl::ToUnixMicros(status.last_error_at);
          out->mutable_last_error_at()->set_seconds(micros / 1'000'000);
          out->mutable_last_error_at()->set_nanos(static_cast<int32_t>(micros % 1'000'000) * 1000);
        }
      }
      return response;
    });
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string grpc_addr = absl::GetFlag(FLAGS_grpc_addr);
  int grpc_port = 0;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = GrpcCredentials();
  if (!credentials.ok()) {
    spdlog::critical("{}", std::string(credentials.status().message()));
    worker_pool.Stop(absl::ZeroDuration());
    return 2;
  }
  builder.AddListeningPort(grpc_addr, *credentials, &grpc_port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(std::max(1024, absl::GetFlag(FLAGS_max_message_bytes)));
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> observers;
  observers.push_back(std::make_unique<CallObserverFactory>(&metrics));
  builder.experimental().SetInterceptorCreators(std::move(observers));
  if (durable) builder.RegisterService(&admin);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || grpc_port == 0) {
    spdlog::critical("cannot listen grpc_addr={}", grpc_addr);
    worker_pool.Stop(absl::ZeroDuration());
    return 1;
  }
  grpc::HealthCheckServiceInterface& health = *server->GetHealthCheckService();
  // NOT_SERVING until the HTTP port listens too: a client (or balancer) that waits for SERVING
  // can then use both ports at once.
  health.SetServingStatus(false);

  // REST: the same services through an in-process channel, so HTTP calls meet the same
  // validation and metadata handling as gRPC ones.
  const google::protobuf::DescriptorPool* descriptors =
      google::protobuf::DescriptorPool::generated_pool();
  std::vector<const google::protobuf::ServiceDescriptor*> rest_services = {
      descriptors->FindServiceByName(kServiceName)};
  if (durable) rest_services.push_back(descriptors->FindServiceByName(kAdminServiceName));
  std::unique_ptr<HttpGateway> gateway;
  std::unique_ptr<HttpServer> http_server;
  int http_port = 0;
  if (const std::string http_addr = absl::GetFlag(FLAGS_http_addr); !http_addr.empty()) {
    absl::StatusOr<std::unique_ptr<JsonTranscoder>> transcoder =
        JsonTranscoder::Create(server->InProcessChannel(grpc::ChannelArguments()), rest_services,
                               absl::GetFlag(FLAGS_http_call_timeout));
    if (transcoder.ok()) (*transcoder)->set_stream_heartbeat(absl::GetFlag(FLAGS_sse_heartbeat));
    if (!transcoder.ok()) {
      spdlog::critical("REST routes: {}", transcoder.status().ToString());
      return 1;
    }
    gateway = std::make_unique<HttpGateway>(
        server->InProcessChannel(grpc::ChannelArguments()), *std::move(transcoder),
        BuildOpenApiJson(rest_services, "Booking service", "v1"), &metrics,
        absl::GetFlag(FLAGS_auth_metrics) ? auth.get() : nullptr);
    http_server = std::make_unique<HttpServer>(
        HttpServerOptions{.address = http_addr,
                          .threads = absl::GetFlag(FLAGS_http_threads),
                          .max_body_bytes = static_cast<size_t>(
                              std::max(1, absl::GetFlag(FLAGS_max_http_body_bytes))),
                          .read_timeout = absl::GetFlag(FLAGS_http_read_timeout),
                          .idle_timeout = absl::GetFlag(FLAGS_http_idle_timeout),
                          .max_connections = absl::GetFlag(FLAGS_max_http_connections),
                          .max_body_memory_bytes = static_cast<size_t>(
                              std::max<int64_t>(1, absl::GetFlag(FLAGS_max_http_body_memory))),
                          .tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file),
                          .tls_key_file = absl::GetFlag(FLAGS_tls_key_file),
                          .tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file)},
        [&gateway](GatewayRequest request, absl::AnyInvocable<void(GatewayResponse)> done) {
          gateway->Handle(std::move(request), std::move(done));
        });
    absl::StatusOr<int> port = http_server->Start();
    if (!port.ok()) {
      spdlog::critical("{}", port.status().ToString());
      return 1;
    }
    http_port = *port;
    HttpServer* http_stats = http_server.get();
    metrics.AddGauge("booking_http_open_connections", "HTTP connections open now.",
                     [http_stats] { return http_stats->stats().open_connections; });
    metrics.AddGauge(
        "booking_http_refused",
        "HTTP connections and requests refused with 503 for want of capacity (total).",
        [http_stats] { return static_cast<double>(http_stats->stats().refused_connections); });
    metrics.AddGauge(
        "booking_http_body_memory_bytes", "Bytes reserved by HTTP request bodies in progress.",
        [http_stats] { return static_cast<double>(http_stats->stats().body_memory_bytes); });
  }
  health.SetServingStatus(true);
  health.SetServingStatus(kServiceName, true);
  auto database_health = std::make_unique<DatabaseHealth>(
      health_pool, health, std::vector<std::string>{kServiceName, kAdminServiceName},
      absl::Seconds(1), &database_reachable);
  spdlog::info(
      "booking-server ready grpc_addr={} grpc_port={} http_port={} event_log={} instance_id={} "
      "workers={} queue_capacity={}",
      grpc_addr, grpc_port, http_port, log_kind, instance_id, worker_options.threads,
      queue.capacity());

  const int signal = WaitForStopSignal(stop_signals, [&auth] {
    if (auth == nullptr) return;
    absl::StatusOr<size_t> count = auth->Reload();
    if (count.ok()) {
      spdlog::info("bearer tokens reloaded tokens={}", *count);
    } else {
      spdlog::error("bearer tokens not reloaded, keeping the old ones error={}",
                    LogValue(count.status().message()));
    }
  });
  const absl::Duration grace = absl::GetFlag(FLAGS_shutdown_timeout);
  spdlog::info("shutting down signal={} timeout={}", strsignal(signal),
               absl::FormatDuration(grace));
  database_health.reset();
  health.Shutdown();  // health now answers NOT_SERVING
  // Watch streams never end by themselves: end them (UNAVAILABLE, resumable elsewhere) so the
  // HTTP and gRPC servers can drain.
  if (watch != nullptr) watch->Stop();
  if (http_server) http_server->Stop(grace);  // no new HTTP requests; those in flight finish
  const absl::Time grpc_stop_start = absl::Now();
  // Calls waiting for handlers get what is known now rather than holding the stop.
  if (waiter != nullptr) waiter->Stop();
  server->Shutdown(absl::ToChronoTime(grpc_stop_start + grace));  // in-flight calls finish
  spdlog::info("grpc server stopped duration_ms={:.0f}",
               absl::ToDoubleMilliseconds(absl::Now() - grpc_stop_start));
  reads.Stop();
  event_log.reset();  // commits what is pending
  pruner.reset();
  auto hurry = [&http] {
    spdlog::warn("handlers still busy at the shutdown deadline: aborting external calls");
    http.Shutdown();
  };
  if (lanes != nullptr) {
    // Each handler finishes its round and records it; what is left stays in the log.
    lanes->Stop(grace, hurry);
    keeper.Stop();  // gives the partitions back: another instance goes on at once
  }
  const size_t left = worker_pool.Stop(grace, hurry);
  if (left > 0) {
    spdlog::warn("stopped with events unhandled count={} (the in-memory log does not keep them)",
                 left);
  }
  spdlog::info("stopped");
  return 0;
}

}  // namespace
}  // namespace booking::server

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Ticket booking service: accepts ticket status changes over gRPC and stores them in "
      "PostgreSQL.\nUsage: booking-server --database_url=postgresql://... [flags]");
  absl::ParseCommandLine(argc, argv);
  // gRPC locks absl::Mutex on every call; Debian builds Abseil with its deadlock detector on,
  // which records every lock order in a global graph (measured: 2% of the server's CPU).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return booking::server::Run();
}
