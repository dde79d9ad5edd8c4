#include "app/application.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "app/durable_pipeline.h"
#include "app/memory_pipeline.h"
#include "app/openapi_options.h"
#include "common/log_value.h"
#include "domain/event_types.h"
#include "openapi/openapi.h"
#include "rest/json_transcoder.h"
#include "server/call_observer.h"
#include "spdlog/spdlog.h"
#include "storage/log_positions.h"
#include "storage/migrations.h"

namespace booking::app {
namespace {

constexpr char kServiceName[] = "tickets.v1.BookingService";
constexpr char kAdminServiceName[] = "tickets.v1.AdminService";
// The gRPC health service's name for the JetStream relay's connection.
constexpr char kRelayHealthName[] = "jetstream";

std::shared_ptr<grpc::ServerCredentials> GrpcCredentials(const std::optional<TlsFiles>& tls) {
  if (!tls.has_value()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      tls->client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                             : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_key_cert_pairs.push_back(
      {.private_key = tls->private_key, .cert_chain = tls->cert_chain});
  options.pem_root_certs = tls->client_ca;
  return grpc::SslServerCredentials(options);
}

// The relay's connection, on its line of GetHandlerStatus.
void AddBrokerState(const clients::PublisherState& state,
                    tickets::v1::GetHandlerStatusResponse& response) {
  for (tickets::v1::HandlerStatus& handler : *response.mutable_handlers()) {
    if (handler.handler() != "PublishToJetStream") continue;  // handlers/handler_table.cc
    tickets::v1::BrokerConnection& broker = *handler.mutable_broker();
    broker.set_connected(state.connected);
    broker.set_server(state.server);
    broker.set_acknowledged(state.acknowledged);
    broker.set_duplicates(state.duplicates);
    broker.set_pending(state.pending);
    broker.set_reconnects(state.reconnects);
    broker.set_failures(state.failures);
  }
}

}  // namespace

Application::Application(Config config)
    : config_(std::move(config)),
      pool_(config_.pool),
      health_pool_(config_.health_pool),
      tickets_(pool_),
      ticket_history_(pool_),
      apis_(config_, pool_, metrics_),
      handlers_(tickets_, apis_.receipts(), apis_.spreadsheets(),
                {.audit_sheet = config_.audit_sheet, .broker = apis_.broker()}),
      reads_(config_.query_threads, /*max_pending=*/1024) {
  handlers_.router().set_metrics(&metrics_);
}

Application::~Application() { Stop(absl::ZeroDuration()); }

absl::Status Application::Start() {
  if (!config_.auth_tokens_file.empty()) {
    absl::StatusOr<std::unique_ptr<api::TokenAuthenticator>> loaded =
        api::TokenAuthenticator::FromFile(config_.auth_tokens_file);
    if (!loaded.ok()) return loaded.status();
    auth_ = *std::move(loaded);
    spdlog::info("bearer tokens required auth_tokens_file={}", config_.auth_tokens_file);
  }
  if (!apis_.broker_status().ok()) return apis_.broker_status();
  running_ = true;  // from here on, Stop has something to undo
  if (absl::Status status = ConnectDatabase(); !status.ok()) return status;
  if (absl::Status status = StartPipeline(); !status.ok()) return status;
  if (absl::Status status = StartGrpc(); !status.ok()) return status;
  if (absl::Status status = StartHttp(); !status.ok()) return status;
  grpc::HealthCheckServiceInterface& health = *grpc_->GetHealthCheckService();
  health.SetServingStatus(true);
  std::vector<std::string> served = {kAdminServiceName};
  if (service_ != nullptr) {
    health.SetServingStatus(kServiceName, true);
    served.push_back(kServiceName);
  }
  database_health_ = std::make_unique<server::DatabaseHealth>(
      health_pool_, health, std::move(served), absl::Seconds(1), &database_reachable_);
  if (clients::EventPublisher* broker = apis_.broker(); broker != nullptr) {
    // A health service of its own: the relay being away stops no call, so the service's own
    // status does not follow it.
    health.SetServingStatus(kRelayHealthName, broker->state().connected);
    relay_health_ =
        std::make_unique<common::PeriodicTask>("relay-health", absl::Seconds(1), [&health, broker] {
          health.SetServingStatus(kRelayHealthName, broker->state().connected);
        });
    relay_health_->Start();
  }
  if (absl::Status written = WriteReadyFile(); !written.ok()) return written;
  spdlog::info(
      "booking-server ready role={} grpc_addr={} grpc_port={} http_port={} event_log={} "
      "instance_id={} workers={} queue_capacity={}",
      RoleName(config_.role), config_.grpc_addr, grpc_port_, http_port_,
      pipeline_->durable() ? "postgres" : "memory", config_.instance_id, config_.workers.threads,
      config_.queue_capacity);
  return absl::OkStatus();
}

absl::Status Application::WriteReadyFile() const {
  if (config_.ready_file.empty()) return absl::OkStatus();
  // Written beside it and renamed: a reader sees the whole file or none.
  const std::string temporary = config_.ready_file + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << "grpc_port=" << grpc_port_ << "\nhttp_port=" << http_port_ << "\n";
    out.close();
    if (!out) {
      return absl::InvalidArgumentError(
          absl::StrCat("--ready_file: cannot write ", temporary, ": ", std::strerror(errno)));
    }
  }
  if (std::rename(temporary.c_str(), config_.ready_file.c_str()) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("--ready_file: cannot rename ", temporary,
                                                   " to ", config_.ready_file, ": ",
                                                   std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status Application::ConnectDatabase() {
  AddPoolGauges();
  spdlog::info("connecting to postgres database_url={} pool_size={}",
               common::LogValue(storage::RedactDatabaseUrl(config_.pool.database_url)),
               config_.pool.size);
  // The database may be starting too: keep trying within --db_startup_timeout.
  const absl::Time deadline = absl::Now() + config_.db_startup_timeout;
  for (absl::Status status = pool_.Warm(); !status.ok(); status = pool_.Warm()) {
    if (absl::Now() + absl::Seconds(1) > deadline) {
      return absl::UnavailableError(absl::StrCat("postgres unreachable: ", status.message()));
    }
    spdlog::warn("waiting for postgres error={}", common::LogValue(status.message()));
    absl::SleepFor(absl::Seconds(1));
  }
  if (absl::StatusOr<int> applied = storage::Migrate(pool_); !applied.ok()) {
    return absl::Status(applied.status().code(),
                        absl::StrCat("migrations failed: ", applied.status().message()));
  }
  // Before any handler or watcher reads a position: a database restored from another cluster
  // has positions this one has not reached.
  if (absl::StatusOr<storage::LogPositionsCheck> positions =
          storage::RebaseForeignLogPositions(pool_);
      !positions.ok()) {
    return positions.status();
  }
  return absl::OkStatus();
}

absl::Status Application::StartPipeline() {
  if (config_.event_log == EventLogKind::kMemory) {
    // Numbers events after everything already stored, so rows written before a restart are not
    // mistaken for newer.
    absl::StatusOr<int64_t> max_sequence = tickets_.MaxEventSequence();
    if (!max_sequence.ok()) return max_sequence.status();
    pipeline_ = std::make_unique<MemoryPipeline>(handlers_.router(), config_.queue_capacity,
                                                 config_.workers, *max_sequence + 1, metrics_);
    return absl::OkStatus();
  }
  auto durable = std::make_unique<DurablePipeline>(config_, handlers_.router(), pool_, metrics_);
  DurablePipeline& started = *durable;
  pipeline_ = std::move(durable);
  if (absl::Status status = started.Start(); !status.ok()) {
    return absl::Status(status.code(),
                        absl::StrCat("registering handlers failed: ", status.message()));
  }
  admin_ = std::make_unique<server::AdminService>(started.events(), reads_, auth_.get());
  admin_->set_handler_status([&started, broker = apis_.broker()] {
    tickets::v1::GetHandlerStatusResponse response = started.HandlerStatus();
    if (broker != nullptr) AddBrokerState(broker->state(), response);
    return response;
  });
  admin_->set_handler_registry(started.registry(), started.configured_handlers());
  return absl::OkStatus();
}

namespace {

// FromFlags refuses a gRPC duration outside 1ms to 576h, so the clamp changes no given value: it
// only keeps the conversion to gRPC's int defined.
int Milliseconds(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, INT_MAX));
}

// Without these a vanished client's connection (and its watch streams) lives until the kernel
// gives up on it, about two hours; see GrpcLimits.
void ApplyGrpcLimits(const GrpcLimits& limits, grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Milliseconds(limits.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Milliseconds(limits.keepalive_timeout));
  // A quiet watch stream sends no data; by default the server would stop pinging after two.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Clients may ping an idle connection too (no calls), but not more often than every 10 s.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             Milliseconds(limits.max_connection_idle));
  if (limits.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               Milliseconds(limits.max_connection_age));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               Milliseconds(limits.max_connection_age_grace));
  }
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams);
  grpc::ResourceQuota quota("booking-grpc");
  quota.Resize(limits.memory_bytes);
  builder.SetResourceQuota(quota);
}

}  // namespace

absl::Status Application::StartGrpc() {
  if (config_.accepts_calls()) {
    server::BookingServiceOptions options = config_.service;
    options.metrics = &metrics_;
    options.auth = auth_.get();
    options.waiter = pipeline_->waiter();
    options.watch = pipeline_->watch();
    if (server::WatchHub* watch = options.watch; watch != nullptr) {
      metrics_.AddGauge("booking_watch_streams", "WatchTickets streams open on this instance.",
                        [watch] { return static_cast<double>(watch->subscribers()); });
    }
    if (pipeline_->durable()) options.database_reachable = &database_reachable_;
    if (!config_.accept_unknown_cancellations) options.ticket_history = &ticket_history_;
    service_ =
        std::make_unique<server::BookingService>(pipeline_->log(), tickets_, reads_, options);
    metrics_.AddGauge(
        "booking_calls_in_flight",
        "UpdateTicketsStatus calls waiting for their events' commit now (at most "
        "--max_concurrent_calls).",
        [service = service_.get()] { return static_cast<double>(service->calls_in_flight()); });
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.grpc_addr, GrpcCredentials(config_.tls), &grpc_port_);
  if (service_ != nullptr) builder.RegisterService(service_.get());
  if (admin_ != nullptr) builder.RegisterService(admin_.get());
  builder.SetMaxReceiveMessageSize(config_.max_message_bytes);
  ApplyGrpcLimits(config_.grpc, builder);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> observers;
  observers.push_back(std::make_unique<server::CallObserverFactory>(&metrics_));
  builder.experimental().SetInterceptorCreators(std::move(observers));
  grpc_ = builder.BuildAndStart();
  if (grpc_ == nullptr || grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen grpc_addr=", config_.grpc_addr));
  }
  // NOT_SERVING until the HTTP port listens too: a client (or balancer) that waits for SERVING
  // can then use both ports at once.
  grpc_->GetHealthCheckService()->SetServingStatus(false);
  return absl::OkStatus();
}

absl::Status Application::StartHttp() {
  if (config_.http.address.empty()) return absl::OkStatus();
  // REST: the same services through an in-process channel, so HTTP calls meet the same
  // validation and metadata handling as gRPC ones.
  const google::protobuf::DescriptorPool* descriptors =
      google::protobuf::DescriptorPool::generated_pool();
  std::vector<const google::protobuf::ServiceDescriptor*> services;
  if (service_ != nullptr) services.push_back(descriptors->FindServiceByName(kServiceName));
  if (admin_ != nullptr) services.push_back(descriptors->FindServiceByName(kAdminServiceName));
  absl::StatusOr<std::unique_ptr<rest::JsonTranscoder>> transcoder = rest::JsonTranscoder::Create(
      grpc_->InProcessChannel(grpc::ChannelArguments()), services, config_.http_call_timeout);
  if (!transcoder.ok()) {
    return absl::Status(transcoder.status().code(),
                        absl::StrCat("REST routes: ", transcoder.status().message()));
  }
  (*transcoder)->set_stream_heartbeat(config_.stream_heartbeat);
  gateway_ = std::make_unique<rest::HttpGateway>(
      grpc_->InProcessChannel(grpc::ChannelArguments()), *std::move(transcoder),
      openapi::BuildOpenApiJson(services, "Booking service", "v1", OpenApiOptionsFor(config_)),
      &metrics_, config_.auth_metrics ? auth_.get() : nullptr, config_.browser);
  http_ = std::make_unique<http::Server>(
      config_.http, [this](http::Request request, absl::AnyInvocable<void(http::Response)> done) {
        gateway_->Handle(std::move(request), std::move(done));
      });
  absl::StatusOr<int> port = http_->Start();
  if (!port.ok()) return port.status();
  http_port_ = *port;
  http::Server* http = http_.get();
  metrics_.AddGauge("booking_http_open_connections", "HTTP connections open now.",
                    [http] { return http->stats().open_connections; });
  metrics_.AddGauge("booking_http_refused",
                    "HTTP connections and requests refused with 503 for want of capacity (total).",
                    [http] { return static_cast<double>(http->stats().refused_connections); });
  metrics_.AddGauge("booking_http_body_memory_bytes",
                    "Bytes reserved by HTTP request bodies in progress.",
                    [http] { return static_cast<double>(http->stats().body_memory_bytes); });
  return absl::OkStatus();
}

void Application::AddPoolGauges() {
  storage::ConnectionPool* pool = &pool_;
  metrics_.AddGauge("booking_db_pool_connections", "PostgreSQL connections in the pool.",
                    [pool] { return pool->stats().size; });
  metrics_.AddGauge("booking_db_pool_in_use", "PostgreSQL connections checked out now.",
                    [pool] { return pool->stats().in_use; });
  metrics_.AddGauge("booking_db_pool_idle", "PostgreSQL connections open and idle now.", [pool] {
    const storage::PoolStats stats = pool->stats();
    return stats.open - stats.in_use;
  });
  metrics_.AddGauge("booking_db_pool_waits", "Checkouts that found no idle connection (total).",
                    [pool] { return static_cast<double>(pool->stats().waits); });
}

void Application::Stop(absl::Duration grace) {
  if (!running_) return;
  running_ = false;
  // One budget for the whole stop, so that --shutdown_timeout (and systemd's TimeoutStopSec
  // above it) holds: each stage gets what the ones before it left, and the lanes' abort hook
  // fires at the deadline at the latest.
  const absl::Time begun = absl::Now();
  const absl::Time deadline = begun + grace;
  relay_health_.reset();
  database_health_.reset();
  if (grpc_ != nullptr) grpc_->GetHealthCheckService()->Shutdown();  // NOT_SERVING from now on
  // Watch streams never end by themselves, and waiting calls would hold the stop: end them
  // (UNAVAILABLE, resumable elsewhere) so the HTTP and gRPC servers can drain.
  if (pipeline_ != nullptr) pipeline_->StopStreams();
  if (http_ != nullptr) {  // no new HTTP requests; those in flight finish
    http_->Stop(std::max(deadline - absl::Now(), absl::ZeroDuration()));
  }
  if (grpc_ != nullptr) {
    const absl::Time start = absl::Now();
    grpc_->Shutdown(absl::ToChronoTime(deadline));  // in-flight calls finish
    spdlog::info("grpc server stopped duration_ms={:.0f}",
                 absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  reads_.Stop();
  if (pipeline_ != nullptr) {
    pipeline_->Stop(deadline, [this] {
      spdlog::warn("handlers still busy at the shutdown deadline: aborting external calls");
      apis_.AbortCalls();
    });
  }
  spdlog::info("stop finished duration_ms={:.0f} budget_ms={:.0f}",
               absl::ToDoubleMilliseconds(absl::Now() - begun), absl::ToDoubleMilliseconds(grace));
}

void Application::ReloadTokens() {
  if (auth_ == nullptr) return;
  absl::StatusOr<size_t> count = auth_->Reload();
  if (count.ok()) {
    spdlog::info("bearer tokens reloaded tokens={}", *count);
  } else {
    spdlog::error("bearer tokens not reloaded, keeping the old ones error={}",
                  common::LogValue(count.status().message()));
  }
}

}  // namespace booking::app
