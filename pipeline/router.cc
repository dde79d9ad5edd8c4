#include "pipeline/router.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "domain/handler.h"

namespace booking::pipeline {

void Router::Register(std::string event_type, domain::Handler* handler) {
  auto it = std::find_if(handlers_.begin(), handlers_.end(),
                         [handler](const auto& entry) { return entry.first == handler; });
  if (it == handlers_.end()) {
    handlers_.push_back({handler, {event_type}});
  } else {
    it->second.push_back(event_type);
  }
  routes_[std::move(event_type)].push_back(handler);
}

std::vector<std::pair<domain::Handler*, std::vector<std::string>>> Router::Routes() const {
  return handlers_;
}

namespace {

// Runs `events` through `handler`; a permanent failure of several events is split in halves.
void HandleSplitting(domain::Handler& handler, absl::Span<const domain::Event* const> events,
                     std::vector<HandlerResult>& out) {
  const absl::Status status = handler.Handle(events);
  if (status.ok() || domain::IsRetryable(status) || events.size() == 1) {
    for (const domain::Event* event : events) out.push_back({event, handler.name(), status});
    return;
  }
  const size_t half = events.size() / 2;
  HandleSplitting(handler, events.subspan(0, half), out);
  HandleSplitting(handler, events.subspan(half), out);
}

}  // namespace

std::vector<const domain::Handler*> Router::HandlersFor(std::string_view event_type) const {
  auto it = routes_.find(absl::string_view(event_type.data(), event_type.size()));
  if (it == routes_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::vector<HandlerResult> Router::Failed(std::vector<HandlerResult> results) {
  std::vector<HandlerResult> failed;
  for (HandlerResult& result : results) {
    if (!result.status.ok()) failed.push_back(std::move(result));
  }
  return failed;
}

std::vector<HandlerResult> Router::Dispatch(absl::Span<const domain::Event> events) const {
  std::vector<HandlerResult> out;
  // Group by handler, keeping publish order inside each group.
  absl::flat_hash_map<domain::Handler*, std::vector<const domain::Event*>> batches;
  std::vector<domain::Handler*> order;
  for (const domain::Event& event : events) {
    auto it = routes_.find(event.type);
    bool routed = false;
    if (it != routes_.end()) {
      for (domain::Handler* handler : it->second) {
        if (!event.handler.empty() && event.handler != handler->name()) continue;
        auto [batch, inserted] = batches.try_emplace(handler);
        if (inserted) order.push_back(handler);
        batch->second.push_back(&event);
        routed = true;
      }
    }
    if (!routed) {
      out.push_back({&event, event.handler,
                     absl::NotFoundError(absl::StrCat("no handler ", event.handler,
                                                      " for event type ", event.type))});
    }
  }
  for (domain::Handler* handler : order) {
    const std::vector<const domain::Event*>& batch = batches[handler];
    const absl::Time start = absl::Now();
    HandleSplitting(*handler, batch, out);
    if (metrics_ != nullptr) metrics_->HandlerBatch(handler->name(), absl::Now() - start);
  }
  return out;
}

}  // namespace booking::pipeline
