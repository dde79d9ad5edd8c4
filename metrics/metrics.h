#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace prometheus {
class Registry;
}

namespace booking::metrics {

// The service's Prometheus metrics (prometheus-cpp underneath), rendered in the text format at
// GET /metrics. Every component takes a nullable Metrics*: tests build components without one.
// Thread-safe. Names and meanings: docs/operations.md, "Operations" (Metrics).
class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One finished API call. protocol: "grpc" or "http"; method: the full gRPC method or the HTTP
  // route; code: the gRPC status name or the HTTP status.
  void RecordCall(std::string_view protocol, std::string_view method, std::string_view code,
                  absl::Duration latency);
  void EventsAccepted(size_t n);   // in calls answered OK
  void EventsPublished(size_t n);  // newly written to the event log
  void LogCommit(size_t events, absl::Duration latency);
  // outcome: "success", "retry", "dead_letter" or "dropped" (in-memory log).
  void Delivery(std::string_view handler, std::string_view outcome) {
    Deliveries(handler, outcome, 1);
  }
  void Deliveries(std::string_view handler, std::string_view outcome, int n);
  // Events handed to a handler again (after a crash, or a dead letter sent back).
  void HandlerRedeliveries(std::string_view handler, int n);
  // Progress a handler could not record: its partition changed owner meanwhile.
  void HandlerStaleCommits(std::string_view handler, int n);
  void HandlerBatch(std::string_view handler, absl::Duration latency);
  // status: the HTTP status, or "error" when there was no answer.
  void ExternalCall(std::string_view api, std::string_view status);

  // Gauges read at scrape time (queue depth, pool state): `read` returns the current value.
  void AddGauge(std::string name, std::string help, std::function<double()> read);
  // A gauge with one value per handler (label `handler`), read at scrape time.
  void AddHandlerGauge(std::string name, std::string help,
                       std::function<std::vector<std::pair<std::string, double>>()> read);

  std::string Render() const;

 private:
  struct Families;
  struct Children;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
  // prometheus-cpp's Family::Add builds a whole metric (a histogram: its buckets) before it
  // looks the labels up, so labelled children are looked up here instead, built once.
  std::unique_ptr<Children> children_;
  struct Gauge {
    std::string name, help;
    std::function<double()> read;
    std::function<std::vector<std::pair<std::string, double>>()> read_per_handler;
  };
  mutable common::Mutex gauges_mu_;
  std::vector<Gauge> gauges_ ABSL_GUARDED_BY(gauges_mu_);
};

}  // namespace booking::metrics
