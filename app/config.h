#pragma once

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/http_client.h"
#include "clients/nats_jetstream.h"
#include "delivery/durable_event_log.h"
#include "delivery/event_pruner.h"
#include "delivery/handler_lane.h"
#include "http/browser_guard.h"
#include "http/server.h"
#include "pipeline/worker_pool.h"
#include "server/booking_service.h"
#include "server/watch_hub.h"
#include "storage/connection_pool.h"
#include "storage/handler_log.h"

// Read by main before FromFlags, so that a bad flag is reported in the configured log format.
ABSL_DECLARE_FLAG(std::string, log_level);
ABSL_DECLARE_FLAG(std::string, log_format);

namespace booking::app {

// Where accepted events go: PostgreSQL (durable before a call is answered) or memory
// (development: events not yet handled are lost on exit).
enum class EventLogKind { kPostgres, kMemory };

// What this process does (--role). Any mix on one database does the work of one process: API
// instances scale with calls, workers with handler load.
enum class Role {
  kAll,     // accepts calls and runs the handlers
  kApi,     // accepts calls and appends events; runs no handler
  kWorker,  // runs the handlers; serves health, metrics and the admin API, not BookingService
};
const char* RoleName(Role role);

// TLS material read from the --tls_* files (PEM).
struct TlsFiles {
  std::string cert_chain;
  std::string private_key;
  std::string client_ca;  // empty: clients present no certificate
};

// How the gRPC port treats its connections: a peer that stops answering pings is dropped after
// keepalive_time + keepalive_timeout, an idle connection after max_connection_idle, and every
// connection after max_connection_age (zero: never) plus max_connection_age_grace for its calls.
struct GrpcLimits {
  absl::Duration keepalive_time = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  absl::Duration max_connection_idle = absl::Minutes(10);
  absl::Duration max_connection_age = absl::ZeroDuration();
  absl::Duration max_connection_age_grace = absl::Minutes(1);
  int max_concurrent_streams = 1000;  // per connection
  size_t memory_bytes = 0;            // all connections' buffers together (gRPC's resource quota)
};

// Everything the process is told by its flags, checked and in the types the modules take. The
// pointers in the option structs (metrics, callbacks, auth) are left for the application to set.
struct Config {
  // The gRPC port.
  std::string grpc_addr;
  std::string ready_file;  // written once serving: the ports taken
  int max_message_bytes = 0;
  GrpcLimits grpc;
  std::optional<TlsFiles> tls;  // both ports serve TLS only when set
  // The REST port; http.address empty: none.
  http::ServerOptions http;
  absl::Duration http_call_timeout;
  http::BrowserGuardOptions browser;  // Host and Origin checks of the REST port
  absl::Duration stream_heartbeat;

  // Bearer tokens; empty: no authentication.
  std::string auth_tokens_file;
  bool auth_metrics = false;
  // Accept a cancellation whatever the ticket's history (importing legacy cancellations).
  bool accept_unknown_cancellations = false;

  // PostgreSQL: the main pool, and one connection of its own for health checks.
  storage::PoolOptions pool;
  storage::PoolOptions health_pool;
  absl::Duration db_startup_timeout;

  EventLogKind event_log = EventLogKind::kPostgres;
  Role role = Role::kAll;
  bool accepts_calls() const { return role != Role::kWorker; }
  bool runs_handlers() const { return role != Role::kApi; }
  // Where a handler the database has never seen starts: the default, and per handler.
  storage::StartFrom new_handler_start = storage::StartFrom::kEarliest;
  absl::flat_hash_map<std::string, storage::StartFrom> handler_start;
  std::string instance_id;  // on the partition leases this process takes
  // The durable log.
  delivery::DurableEventLogOptions log_writer;
  delivery::LaneOptions lanes;
  absl::Duration delivery_lease;
  delivery::EventPrunerOptions pruner;
  // The in-memory log.
  size_t queue_capacity = 0;
  pipeline::WorkerPoolOptions workers;

  // External APIs; an empty URL: the local table.
  std::string receipts_url;
  std::string spreadsheets_url;
  std::string audit_sheet;  // empty: no AppendToAudit handler
  // Set by --jetstream_url: the PublishToJetStream relay runs.
  std::optional<clients::NatsJetStreamOptions> jetstream;
  clients::HttpClientOptions http_client;
  int api_concurrency = 0;

  server::BookingServiceOptions service;
  size_t watch_buffer = 0;
  int query_threads = 0;
  absl::Duration shutdown_timeout;
};

// The config the command-line flags describe, or INVALID_ARGUMENT naming the flag at fault.
// Reads the TLS files (so a bad path is reported before anything starts); starts nothing.
[[nodiscard]] absl::StatusOr<Config> FromFlags();

}  // namespace booking::app
