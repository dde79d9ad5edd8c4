#include "metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <initializer_list>
#include <sstream>

#include "absl/container/flat_hash_map.h"

namespace booking::metrics {
namespace {

// Latency buckets in seconds, 100 µs to 10 s: covers a cached read and a slow external API.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *buckets;
}

std::string S(std::string_view s) { return std::string(s); }

}  // namespace

struct Metrics::Children {
  // The child for `key`, made by `make` (a Family::Add) the first time.
  template <typename Make>
  prometheus::Counter* Counter(std::string key, Make make) {
    common::MutexLock lock(mu);
    return Find(counters, std::move(key), make);
  }
  template <typename Make>
  prometheus::Histogram* Histogram(std::string key, Make make) {
    common::MutexLock lock(mu);
    return Find(histograms, std::move(key), make);
  }

  prometheus::Histogram* commit_events = nullptr;   // set once by the constructor
  prometheus::Histogram* commit_latency = nullptr;  // set once by the constructor

 private:
  // `children` is one of the maps below: the caller holds mu.
  template <typename T, typename Make>
  T* Find(absl::flat_hash_map<std::string, T*>& children, std::string key, Make make)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto [it, inserted] = children.try_emplace(std::move(key));
    if (inserted) it->second = make();
    return it->second;
  }

  common::Mutex mu;
  absl::flat_hash_map<std::string, prometheus::Counter*> counters ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, prometheus::Histogram*> histograms ABSL_GUARDED_BY(mu);
};

struct Metrics::Families {
  explicit Families(prometheus::Registry& r)
      : calls(prometheus::BuildCounter()
                  .Name("booking_calls_total")
                  .Help("API calls finished, by protocol, method and status code.")
                  .Register(r)),
        call_latency(prometheus::BuildHistogram()
                         .Name("booking_call_duration_seconds")
                         .Help("API call latency from arrival to answer, by protocol and method.")
                         .Register(r)),
        events(prometheus::BuildCounter()
                   .Name("booking_events_total")
                   .Help("Events by stage: accepted (in calls answered OK) and published "
                         "(newly written to the event log).")
                   .Register(r)),
        commit_events(prometheus::BuildHistogram()
                          .Name("booking_log_commit_events")
                          .Help("Events written by one group commit of the event log.")
                          .Register(r)),
        commit_latency(prometheus::BuildHistogram()
                           .Name("booking_log_commit_duration_seconds")
                           .Help("Duration of one group commit of the event log.")
                           .Register(r)),
        deliveries(prometheus::BuildCounter()
                       .Name("booking_deliveries_total")
                       .Help("Handler deliveries by handler and outcome (success, retry, "
                             "dead_letter, dropped).")
                       .Register(r)),
        handler_latency(prometheus::BuildHistogram()
                            .Name("booking_handler_batch_duration_seconds")
                            .Help("Time one handler took for one batch of events.")
                            .Register(r)),
        external(prometheus::BuildCounter()
                     .Name("booking_external_calls_total")
                     .Help("Calls to the external receipts and spreadsheets APIs by HTTP status "
                           "(\"error\": no answer).")
                     .Register(r)),
        redeliveries(prometheus::BuildCounter()
                         .Name("booking_handler_redeliveries_total")
                         .Help("Events handed to a handler again: after a crash or a lost "
                               "lease (a duplicate call is possible), or a dead letter sent back.")
                         .Register(r)),
        stale_commits(prometheus::BuildCounter()
                          .Name("booking_handler_stale_commits_total")
                          .Help("Partition checkpoints a handler could not record because the "
                                "partition changed owner meanwhile (its events are redone).")
                          .Register(r)),
        accepted(events.Add({{"stage", "accepted"}})),
        published(events.Add({{"stage", "published"}})) {}

  prometheus::Family<prometheus::Counter>& calls;
  prometheus::Family<prometheus::Histogram>& call_latency;
  prometheus::Family<prometheus::Counter>& events;
  prometheus::Family<prometheus::Histogram>& commit_events;
  prometheus::Family<prometheus::Histogram>& commit_latency;
  prometheus::Family<prometheus::Counter>& deliveries;
  prometheus::Family<prometheus::Histogram>& handler_latency;
  prometheus::Family<prometheus::Counter>& external;
  prometheus::Family<prometheus::Counter>& redeliveries;
  prometheus::Family<prometheus::Counter>& stale_commits;
  prometheus::Counter& accepted;
  prometheus::Counter& published;
};

namespace {

const prometheus::Histogram::BucketBoundaries& CommitSizeBuckets() {
  static const auto* sizes = new prometheus::Histogram::BucketBoundaries{
      1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
  return *sizes;
}

// Keys of the child caches: the label values, with a separator no label value contains.
std::string Key(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (std::string_view part : parts) {
    key.append(part.data(), part.size());
    key.push_back('\x1f');
  }
  return key;
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(*registry_)),
      children_(std::make_unique<Children>()) {
  children_->commit_events = &families_->commit_events.Add({}, CommitSizeBuckets());
  children_->commit_latency = &families_->commit_latency.Add({}, LatencyBuckets());
}

Metrics::~Metrics() = default;

void Metrics::RecordCall(std::string_view protocol, std::string_view method, std::string_view code,
                         absl::Duration latency) {
  children_
      ->Counter(Key({"call", protocol, method, code}),
                [&] {
                  return &families_->calls.Add(
                      {{"protocol", S(protocol)}, {"method", S(method)}, {"code", S(code)}});
                })
      ->Increment();
  children_
      ->Histogram(Key({"call", protocol, method}),
                  [&] {
                    return &families_->call_latency.Add(
                        {{"protocol", S(protocol)}, {"method", S(method)}}, LatencyBuckets());
                  })
      ->Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::EventsAccepted(size_t n) { families_->accepted.Increment(static_cast<double>(n)); }

void Metrics::EventsPublished(size_t n) { families_->published.Increment(static_cast<double>(n)); }

void Metrics::LogCommit(size_t events, absl::Duration latency) {
  children_->commit_events->Observe(static_cast<double>(events));
  children_->commit_latency->Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::Deliveries(std::string_view handler, std::string_view outcome, int n) {
  children_
      ->Counter(
          Key({"delivery", handler, outcome}),
          [&] {
            return &families_->deliveries.Add({{"handler", S(handler)}, {"outcome", S(outcome)}});
          })
      ->Increment(n);
}

void Metrics::HandlerRedeliveries(std::string_view handler, int n) {
  children_
      ->Counter(Key({"redelivery", handler}),
                [&] {
                  return &families_->redeliveries.Add({{"handler", S(handler)}});
                })
      ->Increment(n);
}

void Metrics::HandlerStaleCommits(std::string_view handler, int n) {
  children_
      ->Counter(Key({"stale", handler}),
                [&] {
                  return &families_->stale_commits.Add({{"handler", S(handler)}});
                })
      ->Increment(n);
}

void Metrics::HandlerBatch(std::string_view handler, absl::Duration latency) {
  children_
      ->Histogram(
          Key({"handler", handler}),
          [&] {
            return &families_->handler_latency.Add({{"handler", S(handler)}}, LatencyBuckets());
          })
      ->Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::ExternalCall(std::string_view api, std::string_view status) {
  children_
      ->Counter(Key({"external", api, status}),
                [&] {
                  return &families_->external.Add({{"api", S(api)}, {"status", S(status)}});
                })
      ->Increment();
}

void Metrics::AddGauge(std::string name, std::string help, std::function<double()> read) {
  common::MutexLock lock(gauges_mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(read), nullptr});
}

void Metrics::AddHandlerGauge(std::string name, std::string help,
                              std::function<std::vector<std::pair<std::string, double>>()> read) {
  common::MutexLock lock(gauges_mu_);
  gauges_.push_back({std::move(name), std::move(help), nullptr, std::move(read)});
}

std::string Metrics::Render() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  common::MutexLock lock(gauges_mu_);
  for (const Gauge& gauge : gauges_) {
    out << "# HELP " << gauge.name << ' ' << gauge.help << "\n# TYPE " << gauge.name << " gauge\n";
    if (gauge.read) {
      out << gauge.name << ' ' << gauge.read() << '\n';
      continue;
    }
    // Handler names are C++ identifiers: nothing in them needs escaping.
    for (const auto& [handler, value] : gauge.read_per_handler()) {
      out << gauge.name << "{handler=\"" << handler << "\"} " << value << '\n';
    }
  }
  return out.str();
}

}  // namespace booking::metrics
