#include "app/durable_pipeline.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "handlers/handler_set.h"

namespace booking::app {
namespace {

delivery::LaneOptions WithProgressHook(delivery::LaneOptions options,
                                       server::CompletionWaiter& waiter, server::WatchHub& watch) {
  // A handler that recorded progress may have finished what a waiting call or a watcher wants.
  options.on_progress = [&waiter, &watch] {
    waiter.Wake();
    watch.Wake();
  };
  return options;
}

void SetTimestamp(absl::Time time, google::protobuf::Timestamp& out) {
  const int64_t micros = absl::ToUnixMicros(time);
  out.set_seconds(micros / 1'000'000);
  out.set_nanos(static_cast<int32_t>(micros % 1'000'000) * 1000);
}

// A non-negative duration.
void SetDuration(absl::Duration duration, google::protobuf::Duration& out) {
  const int64_t micros = absl::ToInt64Microseconds(duration);
  out.set_seconds(micros / 1'000'000);
  out.set_nanos(static_cast<int32_t>(micros % 1'000'000) * 1000);
}

std::vector<std::string> HandlerNames(const pipeline::Router& router) {
  std::vector<std::string> names;
  for (const auto& [handler, types] : router.Routes()) names.emplace_back(handler->name());
  return names;
}

}  // namespace

DurablePipeline::DurablePipeline(const Config& config, const pipeline::Router& router,
                                 storage::ConnectionPool& pool, metrics::Metrics& metrics)
    : instance_id_(config.instance_id),
      role_(config.role),
      new_handler_start_(config.new_handler_start),
      handler_start_(config.handler_start),
      event_store_(pool),
      handler_log_(pool),
      registry_(pool),
      roster_(registry_, HandlerNames(router)),
      progress_(pool),
      steps_(pool),
      waiter_(progress_, handlers::StoringHandlerNames()),
      watch_(steps_, server::WatchOptions{.buffer = config.watch_buffer,
                                          .step_kinds = handlers::StepKinds()}),
      keeper_(handler_log_, {.owner = config.instance_id,
                             .lease = config.delivery_lease,
                             .renew_interval = config.delivery_lease / 3,
                             .partitions = storage::kLogPartitions}),
      lanes_(router, handler_log_, keeper_, WithProgressHook(config.lanes, waiter_, watch_),
             &metrics),
      log_options_(config.log_writer),
      pruner_options_(config.pruner) {
  log_options_.metrics = &metrics;
  log_options_.on_commit = [this](const auto& types) { lanes_.Wake(types); };
}

DurablePipeline::~DurablePipeline() { Stop(absl::InfinitePast(), nullptr); }

absl::Status DurablePipeline::Start() {
  waiter_.Start();
  watch_.Start();
  if (role_ == Role::kApi) {
    absl::Status status =
        roster_.Register([this] { return lanes_.Register(new_handler_start_, handler_start_); });
    if (!status.ok()) return status;
  } else {
    keeper_.Start([this] { lanes_.Wake(); });
    absl::Status status =
        roster_.Register([this] { return lanes_.Start(new_handler_start_, handler_start_); });
    if (!status.ok()) return status;
  }
  if (role_ != Role::kWorker) {
    log_ = std::make_unique<delivery::DurableEventLog>(event_store_, log_options_);
  }
  pruner_ = std::make_unique<delivery::EventPruner>(event_store_, pruner_options_);
  return absl::OkStatus();
}

tickets::v1::GetHandlerStatusResponse DurablePipeline::HandlerStatus() const {
  tickets::v1::GetHandlerStatusResponse response;
  response.set_instance_id(instance_id_);
  response.set_partitions_held(keeper_.held());
  for (const delivery::HandlerStatus& status : lanes_.Status()) {
    tickets::v1::HandlerStatus* out = response.add_handlers();
    out->set_handler(status.handler);
    out->set_lag(status.lag);
    if (status.oldest_unread != absl::InfiniteFuture()) {
      SetDuration(std::max(absl::ZeroDuration(), absl::Now() - status.oldest_unread),
                  *out->mutable_oldest_unread_age());
    }
    out->set_in_flight(status.in_flight);
    out->set_retry_backlog(status.retry_backlog);
    static constexpr const char* kBreaker[] = {"closed", "open", "half-open"};
    out->set_breaker(kBreaker[static_cast<int>(status.breaker)]);
    out->set_succeeded(status.succeeded);
    out->set_dead_lettered(status.dead_lettered);
    out->set_retried(status.retried);
    out->set_redelivered(status.redelivered);
    out->set_stale_commits(status.stale_commits);
    out->set_last_error(status.last_error);
    if (status.last_error_at != absl::InfinitePast()) {
      SetTimestamp(status.last_error_at, *out->mutable_last_error_at());
    }
    out->set_parked(status.parked);
    out->set_parked_here(status.parked_here);
    if (status.parked > 0 && status.oldest_parked != absl::InfiniteFuture()) {
      SetDuration(std::max(absl::ZeroDuration(), absl::Now() - status.oldest_parked),
                  *out->mutable_oldest_parked_age());
    }
    out->set_configured(true);
  }
  // Registered by other configurations: the ones an operator may have to retire.
  const std::vector<storage::RegisteredHandler> others = roster_.Unconfigured();
  if (!others.empty()) {
    const absl::flat_hash_map<std::string, storage::HandlerBacklog> lag = lanes_.Lag();
    for (const storage::RegisteredHandler& handler : others) {
      tickets::v1::HandlerStatus* out = response.add_handlers();
      out->set_handler(handler.handler);
      out->set_configured(false);
      if (handler.retired_at.has_value()) {
        out->set_retired(true);
        SetTimestamp(*handler.retired_at, *out->mutable_retired_at());
      } else if (auto it = lag.find(handler.handler); it != lag.end()) {
        out->set_lag(it->second.events);
      }
    }
  }
  return response;
}

void DurablePipeline::StopStreams() {
  watch_.Stop();
  waiter_.Stop();
}

void DurablePipeline::Stop(absl::Time deadline, const std::function<void()>& hurry) {
  if (stopped_) return;
  stopped_ = true;
  StopStreams();
  log_.reset();  // commits what is pending
  pruner_.reset();
  // Each handler finishes its round and records it, in what the commit above left of the time;
  // what is left stays in the log.
  lanes_.Stop(std::max(deadline - absl::Now(), absl::ZeroDuration()), hurry);
  keeper_.Stop();  // gives the partitions back: another instance goes on at once
}

}  // namespace booking::app
