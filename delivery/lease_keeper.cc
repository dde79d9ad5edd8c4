#include "delivery/lease_keeper.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "common/log_value.h"
#include "spdlog/spdlog.h"

namespace booking::delivery {

LeaseKeeper::LeaseKeeper(storage::HandlerLog& log, LeaseKeeperOptions options)
    : log_(log),
      options_(std::move(options)),
      task_("leases", options_.renew_interval, [this] { RunOnce(); }) {}

LeaseKeeper::~LeaseKeeper() { Stop(); }

void LeaseKeeper::Start(std::function<void()> on_gain) {
  on_gain_ = std::move(on_gain);
  RunOnce();
  task_.Start();
  started_ = true;
}

void LeaseKeeper::Stop() {
  if (!started_) return;
  started_ = false;
  task_.Stop();
  std::vector<int> partitions;
  {
    common::MutexLock lock(mu_);
    for (const auto& [partition, epoch] : held_) partitions.push_back(partition);
    held_.clear();
  }
  if (absl::Status status = log_.Release(options_.owner, partitions, /*leaving=*/true);
      !status.ok()) {
    spdlog::warn("leases not given back, they expire in {} error={}",
                 absl::FormatDuration(options_.lease), common::LogValue(status.ToString()));
  } else {
    spdlog::info("leases given back partitions={}", partitions.size());
  }
}

std::vector<storage::PartitionLease> LeaseKeeper::Acquire() {
  std::vector<storage::PartitionLease> out;
  common::MutexLock lock(mu_);
  for (const auto& [partition, epoch] : held_) {
    if (handing_over_.contains(partition)) continue;
    out.push_back({partition, epoch});
    ++in_flight_[partition];
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.partition < b.partition; });
  return out;
}

void LeaseKeeper::Done(const std::vector<storage::PartitionLease>& partitions) {
  common::MutexLock lock(mu_);
  for (const storage::PartitionLease& lease : partitions) {
    auto it = in_flight_.find(lease.partition);
    if (it != in_flight_.end() && --it->second <= 0) in_flight_.erase(it);
  }
}

int LeaseKeeper::held() const {
  common::MutexLock lock(mu_);
  return static_cast<int>(held_.size());
}

bool LeaseKeeper::Holds(const storage::PartitionLease& lease) const {
  common::MutexLock lock(mu_);
  auto it = held_.find(lease.partition);
  return it != held_.end() && it->second == lease.epoch && absl::Now() < valid_until_;
}

bool LeaseKeeper::Alive() const {
  common::MutexLock lock(mu_);
  return absl::Now() < valid_until_;
}

void LeaseKeeper::Lost(const storage::PartitionLease& lease) {
  common::MutexLock lock(mu_);
  auto it = held_.find(lease.partition);
  if (it != held_.end() && it->second == lease.epoch) held_.erase(it);
}

void LeaseKeeper::RunOnce() {
  const absl::Time round_start = absl::Now();
  absl::StatusOr<std::vector<storage::PartitionLease>> renewed =
      log_.Renew(options_.owner, options_.lease);
  if (!renewed.ok()) {
    // Keep what we think we hold: the writes are fenced, so a lease lost meanwhile costs nothing
    // but redone work.
    spdlog::warn("renewing leases failed error={}", common::LogValue(renewed.status().ToString()));
    return;
  }
  absl::StatusOr<int> live = log_.LiveOwners();
  const int owners = std::max(1, live.ok() ? *live : 1);
  const int share = (options_.partitions + owners - 1) / owners;
  const int have = static_cast<int>(renewed->size());
  std::vector<storage::PartitionLease> claimed;
  if (have < share) {
    absl::StatusOr<std::vector<storage::PartitionLease>> more =
        log_.Claim(options_.owner, options_.lease, share - have);
    if (more.ok()) {
      claimed = *std::move(more);
    } else {
      spdlog::warn("claiming partitions failed error={}",
                   common::LogValue(more.status().ToString()));
    }
  }
  std::vector<int> release;
  {
    common::MutexLock lock(mu_);
    valid_until_ = round_start + options_.lease;
    held_.clear();
    for (const auto& lease : *renewed) held_[lease.partition] = lease.epoch;
    for (const auto& lease : claimed) held_[lease.partition] = lease.epoch;
    // Beyond the share: the highest partitions are handed over, once no batch of them is in
    // flight, so the newcomer never redoes work this instance is doing.
    std::vector<int> mine;
    for (const auto& [partition, epoch] : held_) mine.push_back(partition);
    std::sort(mine.begin(), mine.end());
    absl::flat_hash_set<int> over;
    for (size_t i = static_cast<size_t>(share); i < mine.size(); ++i) over.insert(mine[i]);
    handing_over_ = over;
    for (int partition : over) {
      if (!in_flight_.contains(partition)) release.push_back(partition);
    }
    for (int partition : release) {
      held_.erase(partition);
      handing_over_.erase(partition);
    }
  }
  if (!release.empty()) {
    if (absl::Status status = log_.Release(options_.owner, release, /*leaving=*/false);
        !status.ok()) {
      spdlog::warn("handing partitions over failed error={}", common::LogValue(status.ToString()));
    } else {
      spdlog::info("partitions handed over count={} live_instances={}", release.size(), owners);
    }
  }
  if (!claimed.empty()) {
    spdlog::info("partitions taken count={} held={} live_instances={}", claimed.size(),
                 have + static_cast<int>(claimed.size()), owners);
    if (on_gain_) on_gain_();
  }
}

}  // namespace booking::delivery
