#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "common/mutex.h"
#include "common/periodic_task.h"
#include "delivery/handler_lane.h"
#include "delivery/lease_keeper.h"
#include "metrics/metrics.h"
#include "pipeline/router.h"
#include "storage/handler_log.h"

namespace booking::delivery {

// The worker pool of the durable log: one HandlerLane per handler registered in the router (for
// the event types it takes), each consuming the log on its own. Also reports each handler's lag for
// the status and the metrics, counted in the database at most every 5 seconds and only while
// somebody looks (a count walks the backlog). The status counts when its figures are older
// (callers run it off the I/O threads); the metrics never wait: they show the last count, with
// its age, and a count older than 5 s is redone in the background.
class LanePool {
 public:
  LanePool(const pipeline::Router& router, storage::HandlerLog& log, LeaseKeeper& keeper,
           LaneOptions options, metrics::Metrics* metrics = nullptr);
  ~LanePool();  // Stop()
  LanePool(const LanePool&) = delete;
  LanePool& operator=(const LanePool&) = delete;

  // Registers the handlers in the log: a handler the log has never seen starts at `start`, or
  // at its entry in `overrides`; the others go on from their checkpoints. An API instance does
  // this too (and runs no lane), so events it accepts before any worker came are not skipped by
  // a handler placed at `latest`.
  [[nodiscard]] absl::Status Register(
      storage::StartFrom start,
      const absl::flat_hash_map<std::string, storage::StartFrom>& overrides = {});
  // Register, then starts the lanes.
  [[nodiscard]] absl::Status Start(
      storage::StartFrom start,
      const absl::flat_hash_map<std::string, storage::StartFrom>& overrides = {});
  void Wake();  // events of any type may have been appended (e.g. partitions were taken over)
  // Events of these types were appended: wakes their handlers only, so the lanes of other
  // types do not read the log for nothing.
  void Wake(const absl::flat_hash_set<std::string>& event_types);
  // Lets every lane finish its round and record it, then joins them. `when_late` runs if they
  // are still busy after `grace` (e.g. to abort external calls).
  void Stop(absl::Duration grace, const std::function<void()>& when_late = nullptr);

  // Counts the lag first if the last count is older than 5 s: may wait for the database.
  std::vector<HandlerStatus> Status() const;
  // The last count's figures at once; wakes the background count when they are old.
  std::vector<HandlerStatus> CachedStatus() const;
  // How old the figures are (InfiniteDuration: never counted).
  absl::Duration lag_age() const;

  // The lag per registered handler (retired ones excluded), whether configured here or not,
  // counted again if the last count is older than kLagMaxAge.
  absl::flat_hash_map<std::string, storage::HandlerBacklog> Lag() const;
  absl::flat_hash_map<std::string, storage::ParkedSummary> ParkedNow() const;
  void CountLagNow() const;  // the background count, at once (for tests)

 private:
  storage::HandlerLog& log_;
  std::vector<std::unique_ptr<HandlerLane>> lanes_;
  std::vector<HandlerStatus> WithLag(
      const absl::flat_hash_map<std::string, storage::HandlerBacklog>& lag,
      const absl::flat_hash_map<std::string, storage::ParkedSummary>& parked) const;
  void CountIfWanted() const;  // the background task: counts when asked lately and due

  mutable common::Mutex count_mu_;  // held while counting: concurrent askers share one count
  mutable common::Mutex lag_mu_;    // the figures; never held across a query
  mutable absl::flat_hash_map<std::string, storage::HandlerBacklog> lag_ ABSL_GUARDED_BY(lag_mu_);
  mutable absl::Time lag_counted_at_ ABSL_GUARDED_BY(lag_mu_) = absl::InfinitePast();
  mutable absl::Time lag_asked_at_ ABSL_GUARDED_BY(lag_mu_) = absl::InfinitePast();
  // Parked events per handler, counted with the lag.
  mutable absl::flat_hash_map<std::string, storage::ParkedSummary> parked_ ABSL_GUARDED_BY(lag_mu_);
  // Declared last: stopped (joined) first, before the figures it writes go.
  mutable std::unique_ptr<common::PeriodicTask> counter_;
  bool started_ = false;
};

}  // namespace booking::delivery
