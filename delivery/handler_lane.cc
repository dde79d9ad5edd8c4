#include "delivery/handler_lane.h"

#include <pthread.h>

#include <algorithm>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log_value.h"
#include "delivery/event_conversion.h"
#include "spdlog/spdlog.h"

namespace booking::workers {

// One event of the batch in hand and what became of it.
struct HandlerLane::Item {
  enum class State { kPending, kDone, kDead };
  const storage::LoggedEvent* logged = nullptr;
  Event event;
  State state = State::kPending;
  std::string reason;  // for kDead
  int attempts = 0;
};

HandlerLane::HandlerLane(Handler& handler, std::string event_type, storage::HandlerLog& log,
                         LeaseKeeper& keeper, LaneOptions options, metrics::Metrics* metrics)
    : handler_(handler),
      event_type_(std::move(event_type)),
      name_(handler.name()),
      log_(log),
      keeper_(keeper),
      options_(std::move(options)),
      metrics_(metrics),
      breaker_(std::max(1, options_.retry.breaker_failures)) {
  status_.handler = name_;
}

HandlerLane::~HandlerLane() { Stop(); }

void HandlerLane::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), absl::StrCat("h-", name_).substr(0, 15).c_str());
    Run();
  });
}

void HandlerLane::Wake() {
  {
    MutexLock lock(wake_mu_);
    woken_ = true;
  }
  wake_.NotifyOne();
}

void HandlerLane::RequestStop() {
  stopping_.store(true, std::memory_order_release);
  wake_.NotifyAll();
}

void HandlerLane::Join() {
  if (thread_.joinable()) thread_.join();
}

bool HandlerLane::SleepUnlessStopped(absl::Duration duration) {
  MutexLock lock(wake_mu_);
  wake_.AwaitFor(wake_mu_, duration, [this] { return stopping(); });
  return !stopping();
}

void HandlerLane::Run() {
  while (!stopping()) {
    const int read = RunOnce();
    if (read >= options_.batch_per_partition) continue;  // a full batch: more is waiting
    if (read == 0) {
      MutexLock lock(wake_mu_);
      auto woken_or_stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(wake_mu_) {
        return stopping() || woken_;
      };
      wake_.AwaitFor(wake_mu_, options_.poll_interval, woken_or_stopping);
      woken_ = false;
    }
    // Under load commits wake the lane constantly: let events gather for a moment, so a read
    // and a commit serve many events rather than a few.
    if (options_.linger > absl::ZeroDuration()) SleepUnlessStopped(options_.linger);
  }
  spdlog::debug("handler lane stopped handler={}", name_);
}

void HandlerLane::NoteError(const absl::Status& status) {
  MutexLock lock(status_mu_);
  status_.last_error = status.ToString();
  status_.last_error_at = absl::Now();
}

int HandlerLane::RunOnce() {
  const absl::Time now = absl::Now();
  const bool redeliveries_due = now >= next_redelivery_check_;
  std::vector<storage::PartitionLease> partitions = keeper_.Acquire();
  absl::Cleanup release = [&] { keeper_.Done(partitions); };
  if (partitions.empty() && !redeliveries_due) return 0;
  storage::ReadOptions read;
  read.owner = keeper_.owner();
  read.partitions = partitions;
  read.event_type = event_type_;
  read.limit_per_partition = options_.batch_per_partition;
  read.max_redeliveries = redeliveries_due ? options_.max_redeliveries : 0;
  read.redelivery_lease = options_.redelivery_lease;
  read.mark_handed_out = handler_.reports_each();
  absl::StatusOr<storage::HandlerBatchRead> batch = log_.Read(name_, read);
  if (!batch.ok()) {
    NoteError(batch.status());
    spdlog::warn("reading the event log failed handler={} error={}", name_,
                 LogValue(batch.status().ToString()));
    SleepUnlessStopped(absl::Seconds(1));  // the database is away: do not spin
    return 0;
  }
  if (redeliveries_due) {
    const auto redeliveries =
        std::count_if(batch->events.begin(), batch->events.end(),
                      [](const storage::LoggedEvent& e) { return e.partition < 0; });
    // A full set (a replay, or many dead letters sent back): more are due, read on at once.
    next_redelivery_check_ =
        redeliveries >= options_.max_redeliveries ? now : now + options_.redelivery_poll;
  }
  if (batch->events.empty()) return 0;
  Work(*batch);
  return static_cast<int>(batch->events.size());
}

void HandlerLane::Work(storage::HandlerBatchRead& batch) {
  std::vector<Item> items(batch.events.size());
  std::vector<size_t> mine(items.size());  // reads are by type: every event is this handler's
  int redelivered = 0;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    items[i].logged = &batch.events[i];
    items[i].event = EventFromRecord(batch.events[i].event);
    mine[i] = i;
    redelivered += batch.events[i].redelivered ? 1 : 0;
  }
  if (redelivered > 0) {
    spdlog::info("events handed out again handler={} count={}", name_, redelivered);
    if (metrics_ != nullptr) metrics_->HandlerRedeliveries(name_, redelivered);
  }
  {
    MutexLock lock(status_mu_);
    status_.in_flight = static_cast<int>(mine.size());
    status_.redelivered += redelivered;
  }
  // An external API's events go in chunks of call_chunk, each recorded when it is done: a
  // crash repeats at most one chunk's calls. A batch-at-once handler takes the batch whole.
  const size_t chunk = handler_.reports_each()
                           ? static_cast<size_t>(std::max(1, options_.call_chunk))
                           : std::max<size_t>(1, mine.size());
  for (size_t first = 0; first < mine.size(); first += chunk) {
    const std::vector<size_t> part(
        mine.begin() + static_cast<std::ptrdiff_t>(first),
        mine.begin() + static_cast<std::ptrdiff_t>(std::min(mine.size(), first + chunk)));
    const bool finished = WorkOn(part, items);
    {
      MutexLock lock(status_mu_);
      status_.breaker = breaker_.state();
    }
    Commit(batch, items);
    // Stopping: the chunk in flight is done and recorded; the rest of the batch stays in the
    // log for the next owner rather than delaying the stop by a chunk of slow calls each.
    if (!finished || stopping()) break;
  }
  MutexLock lock(status_mu_);
  status_.in_flight = 0;
  status_.retry_backlog = 0;
}

// Retries `part` until every event of it is done or dead; false when a stop cut it short.
bool HandlerLane::WorkOn(const std::vector<size_t>& part, std::vector<Item>& items) {
  absl::Time first_failure = absl::InfiniteFuture();
  int failed_rounds = 0;
  while (true) {
    std::vector<size_t> pending;
    for (size_t i : part) {
      if (items[i].state == Item::State::kPending) pending.push_back(i);
    }
    if (pending.empty()) return true;
    if (breaker_.probing()) {
      breaker_.OnProbe();
      pending.resize(1);  // half-open: one probe, not the whole batch
    }
    const absl::Time start = absl::Now();
    Attempt(pending, items);
    if (metrics_ != nullptr) metrics_->HandlerBatch(name_, absl::Now() - start);
    int retryable = 0, succeeded = 0, dead = 0;
    absl::Status last_error;
    const Item* first_failed = nullptr;
    for (size_t i : pending) {
      Item& item = items[i];
      if (item.state == Item::State::kDone) {
        ++succeeded;
      } else if (item.state == Item::State::kDead) {
        ++dead;
        spdlog::warn("dead letter handler={} event_id={} ticket_id={} correlation_id={} error={}",
                     name_, item.event.id, item.event.ticket_id, item.event.correlation_id,
                     LogValue(item.reason));
      } else {
        ++retryable;
        if (first_failed == nullptr) first_failed = &item;
      }
    }
    if (metrics_ != nullptr) {
      if (succeeded > 0) metrics_->Deliveries(name_, "success", succeeded);
      if (dead > 0) metrics_->Deliveries(name_, "dead_letter", dead);
      if (retryable > 0) metrics_->Deliveries(name_, "retry", retryable);
    }
    int left = 0;
    for (size_t i : part) left += items[i].state == Item::State::kPending ? 1 : 0;
    {
      MutexLock lock(status_mu_);
      status_.succeeded += succeeded;
      status_.dead_lettered += dead;
      status_.retried += retryable;
      status_.in_flight = left;
      status_.retry_backlog = retryable > 0 ? left : 0;
    }
    if (retryable == 0) {
      if (succeeded > 0) breaker_.OnSuccess();
      failed_rounds = 0;
      continue;
    }
    breaker_.OnFailures(retryable);
    ++failed_rounds;
    const absl::Time now = absl::Now();
    if (first_failure == absl::InfiniteFuture()) first_failure = now;
    const std::string error = first_failed->reason;
    {
      MutexLock lock(status_mu_);
      status_.breaker = breaker_.state();
      status_.last_error = error;
      status_.last_error_at = now;
    }
    if (now - first_failure >= options_.retry.retry_for) {
      const std::string reason = absl::StrCat(
          "gave up after retrying for ", absl::FormatDuration(now - first_failure), ": ", error);
      int given_up = 0;
      for (size_t i : part) {
        if (items[i].state != Item::State::kPending) continue;
        items[i].state = Item::State::kDead;
        items[i].reason = reason;
        ++given_up;
      }
      spdlog::warn("dead letters handler={} count={} reason={}", name_, given_up, LogValue(reason));
      if (metrics_ != nullptr) metrics_->Deliveries(name_, "dead_letter", given_up);
      MutexLock lock(status_mu_);
      status_.dead_lettered += given_up;
      return true;
    }
    const absl::Duration wait = Backoff(options_.retry, failed_rounds);
    spdlog::warn(
        "handler failed, will retry handler={} failed={} left={} retry_in_ms={} breaker={} "
        "event_id={} correlation_id={} error={}",
        name_, retryable, left, absl::ToInt64Milliseconds(wait),
        breaker_.state() == CircuitBreaker::State::kClosed ? "closed" : "open",
        first_failed->event.id, first_failed->event.correlation_id, LogValue(error));
    if (!SleepUnlessStopped(wait)) return false;
  }
}

void HandlerLane::Attempt(const std::vector<size_t>& subset, std::vector<Item>& items) {
  std::vector<const Event*> events;
  events.reserve(subset.size());
  for (size_t i : subset) events.push_back(&items[i].event);
  std::vector<absl::Status> results(subset.size());
  if (handler_.reports_each()) {
    handler_.HandleEach(events, absl::MakeSpan(results));
  } else {
    AttemptWhole(events, absl::MakeSpan(results));
  }
  for (size_t k = 0; k < subset.size(); ++k) {
    Item& item = items[subset[k]];
    ++item.attempts;
    if (results[k].ok()) {
      item.state = Item::State::kDone;
    } else if (IsRetryable(results[k])) {
      item.reason = results[k].ToString();
    } else {
      item.state = Item::State::kDead;
      item.reason =
          absl::StrCat("not retryable (attempt ", item.attempts, "): ", results[k].ToString());
    }
  }
}

// A handler that succeeds or fails as a whole: a permanent failure is narrowed down by halves,
// so the events that are fine get done and only the one at fault fails.
void HandlerLane::AttemptWhole(absl::Span<const Event* const> events,
                               absl::Span<absl::Status> results) {
  const absl::Status status = handler_.Handle(events);
  if (status.ok() || IsRetryable(status) || events.size() == 1) {
    for (absl::Status& result : results) result = status;
    return;
  }
  const size_t half = events.size() / 2;
  AttemptWhole(events.subspan(0, half), results.subspan(0, half));
  AttemptWhole(events.subspan(half), results.subspan(half));
}

void HandlerLane::Commit(const storage::HandlerBatchRead& batch, const std::vector<Item>& items) {
  storage::HandlerProgress progress;
  progress.owner = keeper_.owner();
  // Per partition, the checkpoint moves to the last event before the first one not finished
  // (all of the batch, unless a stop cut the retries short).
  size_t i = 0;
  for (const auto& [lease, end] : batch.ends) {
    std::optional<storage::LogPosition> reached;
    bool blocked = false;
    std::vector<const Item*> dead;
    for (; i < items.size() && items[i].logged->partition == lease.partition; ++i) {
      const Item& item = items[i];
      if (blocked || item.state == Item::State::kPending) {
        blocked = true;
        continue;
      }
      reached = item.logged->position;
      if (item.state == Item::State::kDead) dead.push_back(&item);
      if (item.state == Item::State::kDone) {
        progress.finished.push_back({item.event.sequence, lease.partition, item.event.note});
      }
    }
    if (!reached.has_value()) continue;
    progress.checkpoints.push_back({lease, *reached});
    for (const Item* item : dead) {
      progress.dead_letters.push_back(
          {item->event.sequence, lease.partition, item->attempts, item->reason});
    }
  }
  for (; i < items.size(); ++i) {  // redeliveries
    const Item& item = items[i];
    if (item.state == Item::State::kDone) {
      progress.redeliveries_done.push_back(item.event.sequence);
      progress.finished.push_back({item.event.sequence, -1, item.event.note});
    } else if (item.state == Item::State::kDead) {
      progress.dead_letters.push_back({item.event.sequence, -1, item.attempts, item.reason});
    }
  }
  if (progress.checkpoints.empty() && progress.redeliveries_done.empty() &&
      progress.dead_letters.empty()) {
    return;
  }
  // The work is done: record it even while stopping, within a bound.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<storage::CommitResult> result = log_.Commit(name_, progress);
    if (result.ok()) {
      if (options_.on_progress) options_.on_progress();
      if (result->stale_partitions > 0) {
        spdlog::warn("progress dropped: partitions changed owner handler={} partitions={}", name_,
                     result->stale_partitions);
        if (metrics_ != nullptr) metrics_->HandlerStaleCommits(name_, result->stale_partitions);
        MutexLock lock(status_mu_);
        status_.stale_commits += result->stale_partitions;
      }
      return;
    }
    NoteError(result.status());
    if (absl::Now() >= deadline && stopping()) {
      spdlog::warn("progress not recorded, it will be redone handler={} error={}", name_,
                   LogValue(result.status().ToString()));
      return;
    }
    spdlog::warn("recording progress failed, will retry handler={} error={}", name_,
                 LogValue(result.status().ToString()));
    absl::SleepFor(std::min(absl::Seconds(2), absl::Milliseconds(100) * attempt));
  }
}

HandlerStatus HandlerLane::status() const {
  MutexLock lock(status_mu_);
  return status_;
}

}  // namespace booking::workers
