#include "pipeline/batch_runner.h"

#include "common/log_value.h"
#include "spdlog/spdlog.h"

namespace booking::workers {

void DeliveryRunner::Run(std::vector<Event>& batch) const {
  for (const Delivery& delivery : router_.Dispatch(batch)) {
    if (!delivery.status.ok()) {
      spdlog::warn(
          "delivery failed handler={} event_id={} ticket_id={} correlation_id={} "
          "outcome=\"dropped (in-memory log)\" error={}",
          std::string(delivery.handler), delivery.event->id, delivery.event->ticket_id,
          delivery.event->correlation_id, LogValue(delivery.status.ToString()));
    }
    if (metrics_ != nullptr) {
      metrics_->Delivery(delivery.handler, delivery.status.ok() ? "success" : "dropped");
    }
  }
}

}  // namespace booking::workers
