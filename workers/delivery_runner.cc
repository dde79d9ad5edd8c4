#include "workers/delivery_runner.h"

#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace booking::workers {
namespace {

std::string_view OutcomeName(storage::DeliveryOutcome::Kind kind,
                             const DeliveryRecorder* recorder) {
  using Kind = storage::DeliveryOutcome::Kind;
  if (kind == Kind::kDone) return "success";
  if (recorder == nullptr) return "dropped";  // the in-memory log keeps no retries
  return kind == Kind::kRetry ? "retry" : "dead_letter";
}

}  // namespace

void DeliveryRunner::Run(std::vector<Event>& batch) const {
  std::vector<Delivery> deliveries = router_.Dispatch(batch);
  const absl::Time now = absl::Now();
  std::vector<storage::DeliveryOutcome> outcomes;
  outcomes.reserve(deliveries.size());
  for (const Delivery& delivery : deliveries) {
    storage::DeliveryOutcome outcome = policy_.Decide(delivery, delivery.event->attempts, now);
    if (!delivery.status.ok()) {
      const char* what =
          outcome.kind == storage::DeliveryOutcome::Kind::kRetry ? "will retry" : "dead letter";
      spdlog::warn(
          "delivery failed handler={} event_id={} ticket_id={} correlation_id={} attempt={} "
          "outcome=\"{}\" error=\"{}\"",
          std::string(delivery.handler), delivery.event->id, delivery.event->ticket_id,
          delivery.event->correlation_id, delivery.event->attempts + 1,
          recorder_ != nullptr ? what : "dropped (in-memory log)", delivery.status.ToString());
    }
    if (metrics_ != nullptr)
      metrics_->Delivery(delivery.handler, OutcomeName(outcome.kind, recorder_));
    outcomes.push_back(std::move(outcome));
  }
  if (recorder_ != nullptr) recorder_->Add(std::move(outcomes));
}

void DeliveryRunner::Release(const std::vector<Event>& events) const {
  if (recorder_ == nullptr) return;
  std::vector<storage::DeliveryOutcome> outcomes;
  for (const Event& event : events) {
    auto release = [&](std::string_view handler) {
      storage::DeliveryOutcome outcome;
      outcome.sequence = event.sequence;
      outcome.handler = std::string(handler);
      outcome.kind = storage::DeliveryOutcome::Kind::kRelease;
      outcomes.push_back(std::move(outcome));
    };
    if (!event.handler.empty()) {
      release(event.handler);
    } else {
      for (const Handler* handler : router_.HandlersFor(event.type)) release(handler->name());
    }
  }
  recorder_->Add(std::move(outcomes));
}

}  // namespace booking::workers
