#pragma once

#include <memory>

#include "app/config.h"
#include "clients/http_client.h"
#include "clients/nats_jetstream.h"
#include "clients/receipts_api.h"
#include "clients/spreadsheets_api.h"
#include "metrics/metrics.h"
#include "storage/connection_pool.h"
#include "storage/pg_receipt_repository.h"
#include "storage/pg_tracker_repository.h"

namespace booking::app {

// Where receipts and tracker rows go: the external APIs when their URL is set (each with an
// HTTP client of its own: one event loop, a bound on its calls in flight), the local tables
// otherwise.
class ExternalApis {
 public:
  ExternalApis(const Config& config, storage::ConnectionPool& pool, metrics::Metrics& metrics);

  clients::ReceiptsApi& receipts() { return *receipts_; }
  clients::SpreadsheetsApi& spreadsheets() { return *spreadsheets_; }
  // The JetStream relay's broker (--jetstream_url), null when not configured.
  clients::EventPublisher* broker() { return jetstream_.get(); }
  // OK, or why the broker could not be set up (reported by Application::Start).
  const absl::Status& broker_status() const { return broker_status_; }
  // Aborts the calls in flight (a stop whose grace ran out).
  void AbortCalls();

 private:
  storage::PgReceiptRepository receipt_table_;
  storage::PgTrackerRepository tracker_table_;
  // Before the APIs that call them, so they outlive them. Null when the API is not configured.
  std::unique_ptr<clients::HttpClient> receipts_http_;
  std::unique_ptr<clients::HttpClient> sheets_http_;
  std::unique_ptr<clients::ReceiptsApi> receipts_;
  std::unique_ptr<clients::SpreadsheetsApi> spreadsheets_;
  std::unique_ptr<clients::NatsJetStream> jetstream_;
  absl::Status broker_status_;
};

}  // namespace booking::app
