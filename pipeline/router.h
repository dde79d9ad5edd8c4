#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "domain/event.h"
#include "domain/handler.h"
#include "metrics/metrics.h"

namespace booking::pipeline {

// What one handler made of one event.
struct HandlerResult {
  const domain::Event* event;
  std::string_view handler;  // Handler::name()
  absl::Status status;
};

// Runs every handler registered for an event's type. Register all handlers before the first
// Dispatch; after that the router is read-only and safe to share between worker threads.
class Router {
 public:
  // `handler` must outlive the router.
  void Register(std::string event_type, domain::Handler* handler);

  // Delivers the events to their handlers (all of the type, or the one Event::handler names),
  // each handler getting its events as one batch; when a batch fails for good (not retryable), it
  // is split in halves until the event at fault is found, so one bad event does not fail the
  // others. A retryable failure fails the whole batch: retrying it at once would not help. Returns
  // one HandlerResult per (event, handler), failed or not; an event with no such handler is
  // reported as NOT_FOUND.
  std::vector<HandlerResult> Dispatch(absl::Span<const domain::Event> events) const;

  // The failed ones among `results`.
  static std::vector<HandlerResult> Failed(std::vector<HandlerResult> results);

  std::vector<const domain::Handler*> HandlersFor(std::string_view event_type) const;

  // Every handler with the event types it is registered for, in registration order.
  std::vector<std::pair<domain::Handler*, std::vector<std::string>>> Routes() const;

  // Times every handler batch into `metrics` (may be null); set before the workers start.
  void set_metrics(metrics::Metrics* metrics) { metrics_ = metrics; }

 private:
  metrics::Metrics* metrics_ = nullptr;
  absl::flat_hash_map<std::string, std::vector<domain::Handler*>> routes_;
  std::vector<std::pair<domain::Handler*, std::vector<std::string>>> handlers_;
};

}  // namespace booking::pipeline
