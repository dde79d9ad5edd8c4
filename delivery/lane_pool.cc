#include "delivery/lane_pool.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/mutex.h"
#include "spdlog/spdlog.h"

namespace booking::delivery {
namespace {

// How old a lag count may be when asked for: a count per checkpoint, cheap when caught up, but
// it grows with the backlog, so not on every scrape.
constexpr absl::Duration kLagMaxAge = absl::Seconds(5);
// The background count stops when nobody has asked for this long (Prometheus scrapes every 15
// to 60 s).
constexpr absl::Duration kLagInterest = absl::Minutes(2);

}  // namespace

LanePool::LanePool(const pipeline::Router& router, storage::HandlerLog& log, LeaseKeeper& keeper,
                   LaneOptions options, metrics::Metrics* metrics)
    : log_(log) {
  for (const auto& [handler, types] : router.Routes()) {
    lanes_.push_back(std::make_unique<HandlerLane>(*handler, types, log, keeper, options, metrics));
  }
  if (metrics != nullptr) {
    auto per_handler = [this](auto field) {
      return [this, field] {
        std::vector<std::pair<std::string, double>> values;
        for (const HandlerStatus& status : CachedStatus()) {
          values.emplace_back(status.handler, static_cast<double>(field(status)));
        }
        return values;
      };
    };
    metrics->AddGauge("booking_handler_lag_age_seconds",
                      "How old the lag and parked figures are (counted in the background at most "
                      "every 5 s while they are scraped; -1: not counted yet).",
                      [this] {
                        const absl::Duration age = lag_age();
                        return age == absl::InfiniteDuration() ? -1.0 : absl::ToDoubleSeconds(age);
                      });
    metrics->AddHandlerGauge("booking_handler_lag_events",
                             "Events a handler has not finished yet (all instances).",
                             per_handler([](const HandlerStatus& s) { return s.lag; }));
    metrics->AddHandlerGauge(
        "booking_handler_oldest_unread_seconds",
        "How long ago the oldest event a handler still has to read was published: its lag in "
        "time (0 when caught up).",
        per_handler([](const HandlerStatus& s) {
          return s.oldest_unread == absl::InfiniteFuture()
                     ? 0.0
                     : std::max(0.0, absl::ToDoubleSeconds(absl::Now() - s.oldest_unread));
        }));
    metrics->AddHandlerGauge("booking_handler_in_flight_events",
                             "Events of the batch a handler is working on.",
                             per_handler([](const HandlerStatus& s) { return s.in_flight; }));
    metrics->AddHandlerGauge("booking_handler_retry_backlog_events",
                             "Events of a handler waiting for a retry after a failure.",
                             per_handler([](const HandlerStatus& s) { return s.retry_backlog; }));
    metrics->AddHandlerGauge(
        "booking_handler_parked_events",
        "Events the API refused on their own, waiting for their own next attempt (all instances).",
        per_handler([](const HandlerStatus& s) { return s.parked; }));
    metrics->AddHandlerGauge(
        "booking_handler_oldest_parked_seconds",
        "How long a handler's oldest parked event has been failing (0: none parked).",
        per_handler([](const HandlerStatus& s) {
          return s.parked > 0 && s.oldest_parked != absl::InfiniteFuture()
                     ? std::max(0.0, absl::ToDoubleSeconds(absl::Now() - s.oldest_parked))
                     : 0.0;
        }));
    metrics->AddHandlerGauge(
        "booking_handler_breaker_state",
        "A handler's circuit breaker: 0 closed, 1 open, 2 half-open.",
        per_handler([](const HandlerStatus& s) { return static_cast<int>(s.breaker); }));
  }
  counter_ = std::make_unique<common::PeriodicTask>("lag-counter", kLagMaxAge,
                                                    [this] { CountIfWanted(); });
  counter_->Start();
}

LanePool::~LanePool() {
  Stop(absl::ZeroDuration());
  if (counter_ != nullptr) counter_->Stop();
}

absl::Status LanePool::Start(
    storage::StartFrom start,
    const absl::flat_hash_map<std::string, storage::StartFrom>& overrides) {
  if (absl::Status status = Register(start, overrides); !status.ok()) return status;
  for (const auto& lane : lanes_) lane->Start();
  started_ = true;
  return absl::OkStatus();
}

absl::Status LanePool::Register(
    storage::StartFrom start,
    const absl::flat_hash_map<std::string, storage::StartFrom>& overrides) {
  for (const auto& lane : lanes_) {
    const std::string name(lane->handler().name());
    auto it = overrides.find(name);
    const storage::StartFrom from = it == overrides.end() ? start : it->second;
    absl::StatusOr<bool> placed = log_.Register(name, lane->event_types(), from);
    if (!placed.ok()) return placed.status();
    if (*placed) {
      spdlog::info("handler registered handler={} event_types={} start={}", name,
                   absl::StrJoin(lane->event_types(), ","),
                   from == storage::StartFrom::kEarliest ? "earliest" : "latest");
    }
  }
  return absl::OkStatus();
}

void LanePool::Wake() {
  for (const auto& lane : lanes_) lane->Wake();
}

void LanePool::Wake(const absl::flat_hash_set<std::string>& event_types) {
  for (const auto& lane : lanes_) {
    for (const std::string& type : lane->event_types()) {
      if (event_types.contains(type)) {
        lane->Wake();
        break;
      }
    }
  }
}

void LanePool::Stop(absl::Duration grace, const std::function<void()>& when_late) {
  if (!started_) return;
  started_ = false;
  for (const auto& lane : lanes_) lane->RequestStop();
  // Join on a helper thread, so a lane stuck in a slow call can be hurried after `grace`.
  common::Mutex mu;
  common::CondVar cv;
  bool joined = false;  // guarded by mu (a local cannot carry ABSL_GUARDED_BY)
  std::thread joiner([&] {
    for (const auto& lane : lanes_) lane->Join();
    common::MutexLock lock(mu);
    joined = true;
    cv.NotifyAll();
  });
  bool in_time = false;
  {
    common::MutexLock lock(mu);
    in_time = cv.AwaitFor(mu, grace, [&] { return joined; });
  }
  if (!in_time && when_late) when_late();  // without the lock, as before
  joiner.join();
}

absl::flat_hash_map<std::string, storage::HandlerBacklog> LanePool::Lag() const {
  {
    common::MutexLock lock(lag_mu_);
    lag_asked_at_ = absl::Now();
  }
  common::MutexLock counting(count_mu_);  // a count in progress is shared
  bool due = false;
  {
    common::MutexLock lock(lag_mu_);
    due = absl::Now() - lag_counted_at_ >= kLagMaxAge;
  }
  if (due) CountLagNow();
  common::MutexLock lock(lag_mu_);
  return lag_;
}

void LanePool::CountLagNow() const {
  // On failure the last figures stay (the database is away), and the next ask tries again.
  absl::StatusOr<std::vector<storage::HandlerBacklog>> backlog = log_.Backlog();
  absl::StatusOr<std::vector<storage::ParkedSummary>> parked = log_.Parked();
  if (!backlog.ok() || !parked.ok()) return;
  common::MutexLock lock(lag_mu_);
  lag_.clear();
  for (storage::HandlerBacklog& handler : *backlog) lag_[handler.handler] = std::move(handler);
  parked_.clear();
  for (const storage::ParkedSummary& summary : *parked) parked_[summary.handler] = summary;
  lag_counted_at_ = absl::Now();
}

void LanePool::CountIfWanted() const {
  {
    common::MutexLock lock(lag_mu_);
    const absl::Time now = absl::Now();
    if (now - lag_asked_at_ > kLagInterest || now - lag_counted_at_ < kLagMaxAge) return;
  }
  common::MutexLock counting(count_mu_);
  CountLagNow();
}

absl::Duration LanePool::lag_age() const {
  common::MutexLock lock(lag_mu_);
  return lag_counted_at_ == absl::InfinitePast() ? absl::InfiniteDuration()
                                                 : absl::Now() - lag_counted_at_;
}

absl::flat_hash_map<std::string, storage::ParkedSummary> LanePool::ParkedNow() const {
  Lag();  // counts both when due
  common::MutexLock lock(lag_mu_);
  return parked_;
}

std::vector<HandlerStatus> LanePool::Status() const {
  const absl::flat_hash_map<std::string, storage::HandlerBacklog> lag = Lag();
  common::MutexLock lock(lag_mu_);
  return WithLag(lag, parked_);
}

std::vector<HandlerStatus> LanePool::CachedStatus() const {
  bool stale = false;
  absl::flat_hash_map<std::string, storage::HandlerBacklog> lag;
  absl::flat_hash_map<std::string, storage::ParkedSummary> parked;
  {
    common::MutexLock lock(lag_mu_);
    lag_asked_at_ = absl::Now();
    stale = lag_asked_at_ - lag_counted_at_ >= kLagMaxAge;
    lag = lag_;
    parked = parked_;
  }
  if (stale && counter_ != nullptr) counter_->Wake();
  return WithLag(lag, parked);
}

std::vector<HandlerStatus> LanePool::WithLag(
    const absl::flat_hash_map<std::string, storage::HandlerBacklog>& lag,
    const absl::flat_hash_map<std::string, storage::ParkedSummary>& parked) const {
  std::vector<HandlerStatus> out;
  for (const auto& lane : lanes_) {
    HandlerStatus status = lane->status();
    auto it = lag.find(status.handler);
    if (it != lag.end()) {
      status.lag = it->second.events;
      status.oldest_unread = it->second.oldest_unread;
    }
    if (auto p = parked.find(status.handler); p != parked.end()) {
      status.parked = p->second.parked;
      status.oldest_parked = p->second.oldest;
    }
    out.push_back(std::move(status));
  }
  return out;
}

}  // namespace booking::delivery
