#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "api/token_authenticator.h"
#include "app/config.h"
#include "app/event_pipeline.h"
#include "app/external_apis.h"
#include "common/periodic_task.h"
#include "handlers/handler_set.h"
#include "http/server.h"
#include "metrics/metrics.h"
#include "rest/http_gateway.h"
#include "server/admin_service.h"
#include "server/booking_service.h"
#include "server/database_health.h"
#include "server/query_executor.h"
#include "storage/connection_pool.h"
#include "storage/pg_ticket_history.h"
#include "storage/pg_ticket_repository.h"

namespace booking::app {

// The service's object graph: members in the order they depend on each other, so they are
// destroyed in reverse. Only this class knows how the modules are connected.
class Application {
 public:
  explicit Application(Config config);
  ~Application();  // Stop(0) if still running
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Reaches the database (waiting up to --db_startup_timeout), migrates it, starts the handlers
  // and then the ports. On error, whatever started is stopped again.
  [[nodiscard]] absl::Status Start();
  // Health goes NOT_SERVING, streams end, the ports drain, pending events are committed and the
  // handlers finish their round, all within `grace` (one deadline for every stage; handlers still
  // busy then have their external calls aborted).
  void Stop(absl::Duration grace);
  // SIGHUP: re-reads the bearer tokens, keeping the old ones if the file is broken.
  void ReloadTokens();

 private:
  [[nodiscard]] absl::Status ConnectDatabase();
  [[nodiscard]] absl::Status WriteReadyFile() const;  // --ready_file
  [[nodiscard]] absl::Status StartPipeline();
  [[nodiscard]] absl::Status StartGrpc();
  [[nodiscard]] absl::Status StartHttp();
  void AddPoolGauges();

  const Config config_;
  metrics::Metrics metrics_;
  std::unique_ptr<api::TokenAuthenticator> auth_;
  storage::ConnectionPool pool_;
  storage::ConnectionPool health_pool_;
  storage::PgTicketRepository tickets_;
  storage::PgTicketHistory ticket_history_;
  ExternalApis apis_;
  handlers::HandlerSet handlers_;
  std::unique_ptr<EventPipeline> pipeline_;
  server::QueryExecutor reads_;
  // Set by the health check; only the durable log needs the database to accept a call.
  std::atomic<bool> database_reachable_{true};
  std::unique_ptr<server::BookingService> service_;
  std::unique_ptr<server::AdminService> admin_;
  std::unique_ptr<common::PeriodicTask> relay_health_;  // the "jetstream" health status
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
  std::unique_ptr<rest::HttpGateway> gateway_;
  std::unique_ptr<http::Server> http_;
  int http_port_ = 0;
  std::unique_ptr<server::DatabaseHealth> database_health_;
  bool running_ = false;
};

}  // namespace booking::app
