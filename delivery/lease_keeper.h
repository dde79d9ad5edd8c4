#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/periodic_task.h"
#include "storage/handler_log.h"

namespace booking::delivery {

struct LeaseKeeperOptions {
  std::string owner;  // this instance's id
  absl::Duration lease = absl::Seconds(10);
  absl::Duration renew_interval = absl::Seconds(3);  // well inside the lease
  int partitions = storage::kLogPartitions;
};

// Holds this instance's fair share of the log's partitions: renews them while the process lives
// (so work it has queued or running is never taken from it), takes free or expired ones up to
// ceil(partitions / live instances), and gives extras back to a newcomer only once no handler
// has a batch of them in flight. Handlers read only partitions they Acquire.
class LeaseKeeper {
 public:
  LeaseKeeper(storage::HandlerLog& log, LeaseKeeperOptions options);
  ~LeaseKeeper();  // Stop()
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Runs the first round now (so partitions are held before the handlers start) and then every
  // renew_interval. `on_gain` runs after a round that took new partitions.
  void Start(std::function<void()> on_gain);
  // Stops renewing and gives every partition back, so another instance takes over at once.
  // Call after the handlers stopped.
  void Stop();

  // The partitions a handler may read now (held, not being handed over), each marked in flight
  // until Done.
  std::vector<storage::PartitionLease> Acquire();
  void Done(const std::vector<storage::PartitionLease>& partitions);

  // True while `lease` is held at its epoch and its renewal has not run out by this process's
  // clock (a process frozen past its lease, or cut off from the database, no longer holds it
  // even before it learns who took it): a handler checks before each chunk of calls.
  bool Holds(const storage::PartitionLease& lease) const;
  // True while the last renewal has not run out: claimed redeliveries are still this owner's.
  bool Alive() const;
  // A commit found the partition taken over: forget it now, not at the next renewal.
  void Lost(const storage::PartitionLease& lease);

  // One round: renew, rebalance. Public for tests.
  void RunOnce();

  int held() const;
  const std::string& owner() const { return options_.owner; }

 private:
  storage::HandlerLog& log_;
  const LeaseKeeperOptions options_;
  std::function<void()> on_gain_;
  mutable common::Mutex mu_;
  absl::flat_hash_map<int, int64_t> held_ ABSL_GUARDED_BY(mu_);   // partition -> epoch
  absl::flat_hash_map<int, int> in_flight_ ABSL_GUARDED_BY(mu_);  // partition -> batches
  absl::flat_hash_set<int> handing_over_ ABSL_GUARDED_BY(mu_);    // not read any more
  // When what the last successful renewal (or claim) granted runs out, measured from before the
  // call: the database's lease ends no sooner.
  absl::Time valid_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  common::PeriodicTask task_;
  bool started_ = false;
};

}  // namespace booking::delivery
