#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "app/config.h"
#include "app/event_pipeline.h"
#include "delivery/durable_event_log.h"
#include "delivery/event_pruner.h"
#include "delivery/handler_roster.h"
#include "delivery/lane_pool.h"
#include "delivery/lease_keeper.h"
#include "metrics/metrics.h"
#include "pipeline/router.h"
#include "storage/connection_pool.h"
#include "storage/pg_event_store.h"
#include "storage/pg_handler_log.h"
#include "storage/pg_handler_registry.h"
#include "storage/pg_progress_reader.h"
#include "storage/pg_step_log.h"

namespace booking::app {

// --event_log=postgres: events are durable before a call is answered; each handler consumes the
// log in its own lane over the partitions this instance leases; progress and steps are rows, so
// calls can wait for their handlers and clients can watch.
class DurablePipeline final : public EventPipeline {
 public:
  DurablePipeline(const Config& config, const pipeline::Router& router,
                  storage::ConnectionPool& pool, metrics::Metrics& metrics);
  ~DurablePipeline() override;

  // As the role asks: takes the first partitions, registers the handlers (a new one where
  // --new_handler_start says, a retired one un-retired; a warning for each handler registered
  // but neither configured here nor retired) and starts their lanes; starts the log writer; and
  // the pruner.
  [[nodiscard]] absl::Status Start();

  bool durable() const override { return true; }
  pipeline::EventLog& log() override { return *log_; }  // not in the worker role
  server::CompletionWaiter* waiter() override { return &waiter_; }
  server::WatchHub* watch() override { return &watch_; }
  tickets::v1::GetHandlerStatusResponse HandlerStatus() const override;
  storage::EventStore& events() { return event_store_; }
  storage::HandlerRegistry& registry() { return registry_; }
  // The handlers this instance runs (or, as an API instance, registers).
  const std::vector<std::string>& configured_handlers() const { return roster_.configured(); }

  void StopStreams() override;
  void Stop(absl::Time deadline, const std::function<void()>& hurry) override;

 private:
  const std::string instance_id_;
  const Role role_;
  const storage::StartFrom new_handler_start_;
  const absl::flat_hash_map<std::string, storage::StartFrom> handler_start_;
  storage::PgEventStore event_store_;
  storage::PgHandlerLog handler_log_;
  storage::PgHandlerRegistry registry_;
  delivery::HandlerRoster roster_;
  storage::PgProgressReader progress_;
  storage::PgStepLog steps_;
  server::CompletionWaiter waiter_;
  server::WatchHub watch_;
  delivery::LeaseKeeper keeper_;
  delivery::LanePool lanes_;
  delivery::DurableEventLogOptions log_options_;
  delivery::EventPrunerOptions pruner_options_;
  std::unique_ptr<delivery::DurableEventLog> log_;
  std::unique_ptr<delivery::EventPruner> pruner_;
  bool stopped_ = false;
};

}  // namespace booking::app
