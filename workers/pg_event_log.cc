#include "workers/pg_event_log.h"

#include <pthread.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"
#include "workers/event_conversion.h"

namespace booking::workers {

PgEventLog::PgEventLog(storage::EventStore& store, PgEventLogOptions options)
    : store_(store), options_(std::move(options)) {
  for (int i = 0; i < std::max(1, options_.writers); ++i) {
    writers_.emplace_back([this, i] {
      pthread_setname_np(pthread_self(), absl::StrCat("log-writer-", i).c_str());
      Run();
    });
  }
}

PgEventLog::~PgEventLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& writer : writers_) writer.join();
}

void PgEventLog::Append(std::vector<Event> events, AppendCallback done) {
  const size_t n = events.size();
  absl::Status refused;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      refused = absl::UnavailableError("event log is shutting down");
    } else if (pending_events_ + n > options_.max_pending_events) {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          "event log saturated (", pending_events_, " events waiting to commit); retry later"));
    } else {
      pending_.push_back({std::move(events), std::move(done)});
      pending_events_ += n;
    }
  }
  if (!refused.ok()) {
    std::move(done)(refused);
    return;
  }
  wake_.notify_one();
}

void PgEventLog::Run() {
  while (true) {
    std::vector<Pending> batch;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(100),
                     [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) {
        if (stopping_) return;
        continue;
      }
      if (options_.max_delay > absl::ZeroDuration() && !stopping_ &&
          pending_events_ < options_.max_batch_events) {
        wake_.wait_for(lock, absl::ToChronoNanoseconds(options_.max_delay), [this] {
          return stopping_ || pending_events_ >= options_.max_batch_events;
        });
      }
      size_t taken = 0;
      while (!pending_.empty() && (batch.empty() || taken + pending_.front().events.size() <=
                                                        options_.max_batch_events)) {
        taken += pending_.front().events.size();
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      pending_events_ -= taken;
    }
    Commit(std::move(batch));
  }
}

void PgEventLog::Commit(std::vector<Pending> batch) {
  std::vector<storage::EventRecord> records;
  for (const Pending& pending : batch) {
    for (const Event& event : pending.events) records.push_back(ToEventRecord(event));
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<storage::EventRecord>> appended = store_.Append(records);
  if (!appended.ok()) {
    const absl::Status status =
        absl::UnavailableError(absl::StrCat("event log: ", appended.status().message()));
    spdlog::warn("group commit failed events={} error=\"{}\"", records.size(),
                 appended.status().ToString());
    for (Pending& pending : batch) std::move(pending.done)(status);
    return;
  }
  if (options_.metrics != nullptr) {
    options_.metrics->LogCommit(records.size(), absl::Now() - start);
    options_.metrics->EventsPublished(appended->size());
  }
  absl::flat_hash_set<std::string> published_ids;
  for (const storage::EventRecord& record : *appended) published_ids.insert(record.event_id);
  std::vector<int> published(batch.size(), 0);
  for (size_t i = 0; i < batch.size(); ++i) {
    for (const Event& event : batch[i].events) {
      // An event whose idempotency key was known is not published.
      published[i] += published_ids.contains(event.id) ? 1 : 0;
    }
  }
  {
    std::lock_guard lock(mu_);
    ++stats_.commits;
    stats_.events += static_cast<long long>(appended->size());
    stats_.largest_batch = std::max(stats_.largest_batch, records.size());
  }
  if (!appended->empty() && options_.on_commit) options_.on_commit();
  // Answer only now: the events are durable.
  for (size_t i = 0; i < batch.size(); ++i) {
    std::move(batch[i].done)(AppendResult{published[i]});
  }
}

PgEventLog::Stats PgEventLog::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace booking::workers
