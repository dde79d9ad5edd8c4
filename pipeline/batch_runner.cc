#include "pipeline/batch_runner.h"

#include "common/log_value.h"
#include "spdlog/spdlog.h"

namespace booking::pipeline {

void BatchRunner::Run(std::vector<domain::Event>& batch) const {
  for (const HandlerResult& result : router_.Dispatch(batch)) {
    if (!result.status.ok()) {
      spdlog::warn(
          "delivery failed handler={} event_id={} ticket_id={} correlation_id={} "
          "outcome=\"dropped (in-memory log)\" error={}",
          std::string(result.handler), result.event->id, result.event->ticket_id,
          result.event->correlation_id, common::LogValue(result.status.ToString()));
    }
    if (metrics_ != nullptr) {
      metrics_->Delivery(result.handler, result.status.ok() ? "success" : "dropped");
    }
  }
}

}  // namespace booking::pipeline
