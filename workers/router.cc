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

std::vector<Delivery> Router::Dispatch(absl::Span<const Event> events) const {
  std::vector<Delivery> failed;
  // Group by handler, keeping publish order inside each group.
  absl::flat_hash_map<Handler*, std::vector<const Event*>> batches;
  std::vector<Handler*> order;
  for (const Event& event : events) {
    auto it = routes_.find(event.type);
    if (it == routes_.end()) {
      failed.push_back(
          {&event, "",
           absl::NotFoundError(absl::StrCat("no handler for event type ", event.type))});
      continue;
    }
    for (Handler* handler : it->second) {
      auto [batch, inserted] = batches.try_emplace(handler);
      if (inserted) order.push_back(handler);
      batch->second.push_back(&event);
    }
  }
  for (Handler* handler : order) {
    const std::vector<const Event*>& batch = batches[handler];
    absl::Status status = handler->Handle(batch);
    if (status.ok()) continue;
    if (batch.size() == 1) {
      failed.push_back({batch.front(), handler->name(), std::move(status)});
      continue;
    }
    for (const Event* event : batch) {
      absl::Status single = handler->Handle(absl::MakeConstSpan(&event, 1));
      if (!single.ok()) failed.push_back({event, handler->name(), std::move(single)});
    }
  }
  return failed;
}

}  // namespace booking::workers
