#include "delivery/durable_event_log.h"

#include <pthread.h>

#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log_value.h"
#include "delivery/event_conversion.h"
#include "spdlog/spdlog.h"
#include "storage/pg_errors.h"

namespace booking::delivery {

DurableEventLog::DurableEventLog(storage::EventStore& store, DurableEventLogOptions options)
    : store_(store), options_(std::move(options)) {
  for (int i = 0; i < std::max(1, options_.writers); ++i) {
    writers_.emplace_back([this, i] {
      pthread_setname_np(pthread_self(), absl::StrCat("log-writer-", i).c_str());
      Run();
    });
  }
}

DurableEventLog::~DurableEventLog() {
  stopping_.store(true);
  // Appends already past their check finish enqueueing (a few instructions; bounded).
  for (int i = 0; i < 100000 && appending_.load() > 0; ++i) std::this_thread::yield();
  for (std::thread& writer : writers_) writer.join();  // they commit what is queued, then exit
}

void DurableEventLog::Append(pipeline::CallIdentity call, std::vector<domain::Event> events,
                             AppendCallback done) {
  const size_t n = events.size();
  appending_.fetch_add(1);
  absl::Status refused;
  if (stopping_.load()) {
    refused = absl::UnavailableError("event log is shutting down");
  } else if (const size_t before = pending_events_.fetch_add(n);
             before + n > options_.max_pending_events) {
    pending_events_.fetch_sub(n);
    refused = absl::ResourceExhaustedError(
        absl::StrCat("event log saturated (", before, " events waiting to commit); retry later"));
  } else {
    queue_.enqueue(Pending{std::move(call), std::move(events), std::move(done)});
  }
  appending_.fetch_sub(1);
  if (!refused.ok()) std::move(done)(refused);
}

void DurableEventLog::Run() {
  std::optional<Pending> carry;  // taken, but over the batch limit: first of the next batch
  while (true) {
    std::vector<Pending> batch;
    size_t events = 0;
    auto take = [&](Pending pending) {
      events += pending.events.size();
      batch.push_back(std::move(pending));
    };
    if (carry.has_value()) {
      take(*std::move(carry));
      carry.reset();
    } else {
      Pending first;
      if (!queue_.wait_dequeue_timed(first, std::chrono::milliseconds(100))) {
        if (stopping_.load() && appending_.load() == 0 && queue_.size_approx() == 0) return;
        continue;
      }
      take(std::move(first));
    }
    // Linger for more, within max_delay, then take what has arrived, up to max_batch_events.
    const absl::Time linger_until = absl::Now() + options_.max_delay;
    while (events < options_.max_batch_events) {
      Pending next;
      bool got = queue_.try_dequeue(next);
      if (!got && !stopping_.load()) {
        const absl::Duration left = linger_until - absl::Now();
        if (left <= absl::ZeroDuration()) break;
        got = queue_.wait_dequeue_timed(next, absl::ToChronoMicroseconds(left));
      }
      if (!got) break;
      if (events + next.events.size() > options_.max_batch_events) {
        carry = std::move(next);
        break;
      }
      take(std::move(next));
    }
    pending_events_.fetch_sub(events);  // a carried call stays counted until its batch
    Commit(std::move(batch));
  }
}

void DurableEventLog::Commit(std::vector<Pending> batch) {
  // Two calls with one key in one statement would both look new: the later one is refused
  // (the service lets only one call per key reach the log at a time, so this is rare).
  {
    absl::flat_hash_set<std::string> keys;
    std::vector<Pending> unique;
    unique.reserve(batch.size());
    for (Pending& pending : batch) {
      const std::string& key = pending.call.idempotency_key;
      if (!key.empty() && !keys.insert(key).second) {
        const std::string& sent =
            pending.call.unscoped_key.empty() ? key : pending.call.unscoped_key;
        std::move(pending.done)(absl::AbortedError(absl::StrCat(
            "idempotency_key: a call with key \"", sent, "\" is being committed; retry")));
        continue;
      }
      unique.push_back(std::move(pending));
    }
    batch = std::move(unique);
  }
  std::vector<storage::CallRecord> calls;
  std::vector<int> call_index(batch.size(), -1);  // per pending: its index in `calls`
  std::vector<storage::EventRecord> records;
  std::vector<int> call_of;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Pending& pending = batch[i];
    if (!pending.call.idempotency_key.empty()) {
      call_index[i] = static_cast<int>(calls.size());
      calls.push_back({pending.call.idempotency_key, pending.call.fingerprint,
                       static_cast<int>(pending.events.size()), pending.call.unscoped_key});
    }
    for (const domain::Event& event : pending.events) {
      records.push_back(ToEventRecord(event));
      call_of.push_back(call_index[i]);
    }
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<storage::AppendOutcome> outcome = store_.Append(calls, records, call_of);
  if (!outcome.ok()) {
    // Lost mid-commit, the events may be in the log (and will then be handled); committed, they
    // are: the client must know that a retry with the same key is what settles it, not that
    // nothing happened.
    std::string message;
    if (storage::IsCommitted(outcome.status())) {
      message = absl::StrCat(
          "event log: the events were committed, but the answer could not be read (",
          outcome.status().message(),
          "); retry with the same idempotency key to get it (nothing is published twice)");
    } else if (storage::IsOutcomeUnknown(outcome.status())) {
      message =
          absl::StrCat("event log: the commit's outcome is unknown (", outcome.status().message(),
                       "); the events may have been published and handled: retry with the "
                       "same idempotency key, which publishes them at most once");
    } else {
      message = absl::StrCat("event log: nothing was published (", outcome.status().message(),
                             "); retry");
    }
    const absl::Status status = absl::UnavailableError(message);
    spdlog::warn("group commit failed events={} error={}", records.size(),
                 common::LogValue(outcome.status().ToString()));
    for (Pending& pending : batch) std::move(pending.done)(status);
    return;
  }
  const std::vector<storage::EventRecord>* appended = &outcome->appended;
  if (options_.metrics != nullptr) {
    options_.metrics->LogCommit(records.size(), absl::Now() - start);
    options_.metrics->EventsPublished(appended->size());
  }
  absl::flat_hash_set<std::string> published_ids;
  for (const storage::EventRecord& record : *appended) published_ids.insert(record.event_id);
  std::vector<int> published(batch.size(), 0);
  for (size_t i = 0; i < batch.size(); ++i) {
    for (const domain::Event& event : batch[i].events) {
      // An event whose idempotency key was known is not published.
      published[i] += published_ids.contains(event.id) ? 1 : 0;
    }
  }
  {
    common::MutexLock lock(stats_mu_);
    ++stats_.commits;
    stats_.events += static_cast<long long>(appended->size());
    stats_.largest_batch = std::max(stats_.largest_batch, records.size());
  }
  if (!appended->empty() && options_.on_commit) {
    absl::flat_hash_set<std::string> types;
    for (const storage::EventRecord& record : *appended) types.insert(record.event_type);
    options_.on_commit(types);
  }
  // Answer only now: the events are durable.
  for (size_t i = 0; i < batch.size(); ++i) {
    pipeline::AppendResult result{published[i]};
    if (call_index[i] >= 0) {
      // Its key was committed by a concurrent call whose answer is not in hand: that status
      // says so (nothing of this call was published) and how to get the answer.
      if (const absl::Status& unanswered = outcome->unanswered[call_index[i]]; !unanswered.ok()) {
        std::move(batch[i].done)(unanswered);
        continue;
      }
      if (const auto& known = outcome->known[call_index[i]]; known.has_value()) {
        const bool same = known->fingerprint == batch[i].call.fingerprint;
        result.outcome = same ? pipeline::AppendResult::Outcome::kReplayed
                              : pipeline::AppendResult::Outcome::kKeyReused;
        result.published = same ? known->accepted_events : 0;
      }
    }
    std::move(batch[i].done)(result);
  }
}

DurableEventLog::Stats DurableEventLog::stats() const {
  common::MutexLock lock(stats_mu_);
  return stats_;
}

}  // namespace booking::delivery
