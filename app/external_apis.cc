#include "app/external_apis.h"

#include "clients/http_receipts_api.h"
#include "clients/http_spreadsheets_api.h"
#include "common/log_value.h"
#include "spdlog/spdlog.h"

namespace booking::app {
namespace {

clients::HttpClientOptions WithMetrics(clients::HttpClientOptions options,
                                       metrics::Metrics& metrics) {
  options.metrics = &metrics;
  return options;
}

}  // namespace

ExternalApis::ExternalApis(const Config& config, storage::ConnectionPool& pool,
                           metrics::Metrics& metrics)
    : receipt_table_(pool), tracker_table_(pool), http_(WithMetrics(config.http_client, metrics)) {
  // One bounded set of threads per external API: its calls are all in flight at once.
  if (!config.receipts_url.empty()) {
    receipt_calls_ = std::make_unique<clients::CallPool>(config.api_concurrency, "receipts");
    receipts_ = std::make_unique<clients::HttpReceiptsApi>(http_, config.receipts_url,
                                                           receipt_calls_.get());
    spdlog::info("receipts go to the receipts API receipts_url={}",
                 common::LogValue(clients::RedactUrl(config.receipts_url)));
  } else {
    receipts_ = std::make_unique<clients::LocalReceiptsApi>(receipt_table_);
    spdlog::info("receipts go to the local receipts table");
  }
  if (!config.spreadsheets_url.empty()) {
    sheet_calls_ = std::make_unique<clients::CallPool>(config.api_concurrency, "sheets");
    spreadsheets_ = std::make_unique<clients::HttpSpreadsheetsApi>(http_, config.spreadsheets_url,
                                                                   sheet_calls_.get());
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

}  // namespace booking::app
