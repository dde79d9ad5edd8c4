#include "app/external_apis.h"

#include "clients/http_receipts_api.h"
#include "clients/http_spreadsheets_api.h"
#include "common/log_value.h"
#include "spdlog/spdlog.h"

namespace booking::app {
namespace {

// One API's client: the configured timeouts, at most --api_concurrency calls in flight.
std::unique_ptr<clients::HttpClient> ApiClient(const Config& config, metrics::Metrics& metrics,
                                               std::string name) {
  clients::HttpClientOptions options = config.http_client;
  options.metrics = &metrics;
  options.max_in_flight = config.api_concurrency;
  options.name = std::move(name);
  return std::make_unique<clients::HttpClient>(std::move(options));
}

}  // namespace

ExternalApis::ExternalApis(const Config& config, storage::ConnectionPool& pool,
                           metrics::Metrics& metrics)
    : receipt_table_(pool), tracker_table_(pool) {
  // One client (one event loop thread) per external API, so each API's bound is its own and a
  // slow one does not take the other's slots.
  if (!config.receipts_url.empty()) {
    receipts_http_ = ApiClient(config, metrics, "receipts");
    receipts_ = std::make_unique<clients::HttpReceiptsApi>(*receipts_http_, config.receipts_url);
    spdlog::info("receipts go to the receipts API receipts_url={}",
                 common::LogValue(clients::RedactUrl(config.receipts_url)));
  } else {
    receipts_ = std::make_unique<clients::LocalReceiptsApi>(receipt_table_);
    spdlog::info("receipts go to the local receipts table");
  }
  if (!config.spreadsheets_url.empty()) {
    sheets_http_ = ApiClient(config, metrics, "sheets");
    spreadsheets_ =
        std::make_unique<clients::HttpSpreadsheetsApi>(*sheets_http_, config.spreadsheets_url);
    spdlog::info("tracker rows go to the spreadsheets API spreadsheets_url={}",
                 common::LogValue(clients::RedactUrl(config.spreadsheets_url)));
  } else {
    spreadsheets_ = std::make_unique<clients::LocalSpreadsheetsApi>(tracker_table_);
    spdlog::info("tracker rows go to the local tracker_rows table");
  }
  if (config.jetstream.has_value()) {
    absl::StatusOr<std::unique_ptr<clients::NatsJetStream>> jetstream =
        clients::NatsJetStream::Connect(*config.jetstream);
    if (!jetstream.ok()) {
      broker_status_ = jetstream.status();
      return;
    }
    jetstream_ = *std::move(jetstream);
    spdlog::info("every event is relayed to JetStream stream={} replicas={}",
                 common::LogValue(config.jetstream->stream), config.jetstream->replicas);
    clients::NatsJetStream* broker = jetstream_.get();
    auto gauge = [&](const char* name, const char* help, auto field) {
      metrics.AddGauge(name, help,
                       [broker, field] { return static_cast<double>(field(broker->state())); });
    };
    gauge("booking_jetstream_connected", "1 while the relay is connected to a NATS server.",
          [](const clients::PublisherState& s) { return s.connected ? 1 : 0; });
    gauge("booking_jetstream_acknowledged_messages",
          "Messages JetStream acknowledged as stored, since start (duplicates included).",
          [](const clients::PublisherState& s) { return s.acknowledged; });
    gauge("booking_jetstream_duplicate_messages",
          "Of those, re-publishes the stream already had and dropped.",
          [](const clients::PublisherState& s) { return s.duplicates; });
    gauge("booking_jetstream_pending_acks", "Publishes awaiting JetStream's acknowledgment now.",
          [](const clients::PublisherState& s) { return s.pending; });
    gauge("booking_jetstream_failed_publishes",
          "Publishes refused or not acknowledged in time, since start (each is retried).",
          [](const clients::PublisherState& s) { return s.failures; });
    gauge("booking_jetstream_reconnects", "Reconnections to NATS since start.",
          [](const clients::PublisherState& s) { return s.reconnects; });
  }
}

void ExternalApis::AbortCalls() {
  if (receipts_http_ != nullptr) receipts_http_->Shutdown();
  if (sheets_http_ != nullptr) sheets_http_->Shutdown();
}

}  // namespace booking::app
