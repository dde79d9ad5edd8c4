#pragma once

#include <memory>

#include "app/config.h"
#include "clients/call_pool.h"
#include "clients/http_client.h"
#include "clients/nats_jetstream.h"
#include "clients/receipts_api.h"
#include "clients/spreadsheets_api.h"
#include "metrics/metrics.h"
#include "storage/connection_pool.h"
#include "storage/pg_receipt_repository.h"
#include "storage/pg_tracker_repository.h"

namespace booking::app {

// Where receipts and tracker rows go: the external APIs when their URL is set (each with its own
// bounded set of calling threads), the local tables otherwise.
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
  void AbortCalls() { http_.Shutdown(); }

 private:
  storage::PgReceiptRepository receipt_table_;
  storage::PgTrackerRepository tracker_table_;
  clients::HttpClient http_;
  std::unique_ptr<clients::CallPool> receipt_calls_;
  std::unique_ptr<clients::CallPool> sheet_calls_;
  std::unique_ptr<clients::ReceiptsApi> receipts_;
  std::unique_ptr<clients::SpreadsheetsApi> spreadsheets_;
  std::unique_ptr<clients::NatsJetStream> jetstream_;
  absl::Status broker_status_;
};

}  // namespace booking::app
