#include "workers/router.h"

#include "absl/strings/str_cat.h"

namespace booking::workers {

void Router::Register(std::string event_type, Handler* handler) {
  routes_[std::move(event_type)].push_back(handler);
}

std::vector<const Handler*> Router::HandlersFor(std::string_view event_type) const {
  auto it = routes_.find(absl::string_view(event_type.data(), event_type.size()));
  if (it == routes_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::vector<Delivery> Router::Failed(std::vector<Delivery> deliveries) {
  std::vector<Delivery> failed;
  for (Delivery& delivery : deliveries) {
    if (!delivery.status.ok()) failed.push_back(std::move(delivery));
  }
  return failed;
}

std::vector<Delivery> Router::Dispatch(absl::Span<const Event> events) const {
  std::vector<Delivery> out;
  // Group by handler, keeping publish order inside each group.
  absl::flat_hash_map<Handler*, std::vector<const Event*>> batches;
  std::vector<Handler*> order;
  for (const Event& event : events) {
    auto it = routes_.find(event.type);
    bool routed = false;
    if (it != routes_.end()) {
      for (Handler* handler : it->second) {
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
  for (Handler* handler : order) {
    const std::vector<const Event*>& batch = batches[handler];
    const absl::Time start = absl::Now();
    absl::Status status = handler->Handle(batch);
    if (metrics_ != nullptr) metrics_->HandlerBatch(handler->name(), absl::Now() - start);
    if (status.ok() || batch.size() == 1) {
      for (const Event* event : batch) out.push_back({event, handler->name(), status});
      continue;
    }
    for (const Event* event : batch) {
      out.push_back({event, handler->name(), handler->Handle(absl::MakeConstSpan(&event, 1))});
    }
  }
  return out;
}

}  // namespace booking::workers
