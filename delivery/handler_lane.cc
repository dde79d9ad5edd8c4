#include "delivery/handler_lane.h"

#include <pthread.h>

#include <algorithm>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log_value.h"
#include "common/safe_text.h"
#include "delivery/event_conversion.h"
#include "spdlog/spdlog.h"

namespace booking::delivery {
namespace {

constexpr size_t kMaxReason = 2000;

// A status as a stored reason: code and message (payloads are the lane's business), valid
// UTF-8 and bounded, whatever the API wrote.
std::string Reason(const absl::Status& status) {
  return common::SafeText(
      absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message()), kMaxReason);
}

// Errors of the data a commit carried (SQLSTATE classes 22 and 23): the same commit would fail
// the same way for ever.
bool RefusedForGood(const absl::Status& status) {
  return absl::IsInvalidArgument(status) || absl::IsFailedPrecondition(status) ||
         absl::IsAlreadyExists(status) || absl::IsOutOfRange(status);
}

// Only printable ASCII: a reason the database accepts whatever it was about.
std::string Ascii(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxReason)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

// One event of the batch in hand and what became of it.
struct HandlerLane::Item {
  enum class State {
    kPending,
    kDone,
    kDead,
    kParked,  // failed on its own: a row of `deliveries` with its schedule (or a new one)
    kBehind,  // a parked event of its ticket is ahead: queued behind it, not called
    kLeft,    // its partition is no longer held: left in the log for the new owner
  };
  const storage::LoggedEvent* logged = nullptr;
  domain::Event event;
  State state = State::kPending;
  std::string reason;  // kDead, kParked
  int attempts = 0;
  absl::Time first_failed_at = absl::InfinitePast();
  absl::Time next_attempt;  // kParked
  bool recorded = false;    // its outcome is committed
  bool redelivery() const { return logged->partition < 0; }
  bool final() const { return state != State::kPending && state != State::kLeft; }
};

HandlerLane::HandlerLane(domain::Handler& handler, std::vector<std::string> event_types,
                         storage::HandlerLog& log, LeaseKeeper& keeper, LaneOptions options,
                         metrics::Metrics* metrics)
    : handler_(handler),
      event_types_(std::move(event_types)),
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
  fresh_events_.store(true, std::memory_order_release);
  {
    common::MutexLock lock(wake_mu_);
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
  common::MutexLock lock(wake_mu_);
  wake_.AwaitFor(wake_mu_, duration, [this] { return stopping(); });
  return !stopping();
}

void HandlerLane::Run() {
  while (!stopping()) {
    const absl::Time now = absl::Now();
    if (Paused(now)) {
      // Failures paused the lane: wait it out (new events may end an inconclusive pause early).
      SleepUnlessStopped(std::min(resume_at_ - now, absl::Milliseconds(50)));
      continue;
    }
    const int read = RunOnce();
    if (read >= options_.batch_per_partition) continue;  // a full batch: more is waiting
    if (read == 0) {
      common::MutexLock lock(wake_mu_);
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

bool HandlerLane::Paused(absl::Time now) const {
  if (now >= resume_at_) return false;
  if (api_pause_) return true;  // the API said it is away: its word, not a guess
  // Every call failed, none saying why: events committed since can tell a lone odd event from
  // a failing API, so a round with them comes soon (one per fresh_probe_gap at most).
  return !(fresh_events_.load(std::memory_order_acquire) &&
           now >= last_attempt_ + options_.fresh_probe_gap);
}

void HandlerLane::NoteError(const absl::Status& status) { NoteError(Reason(status)); }

void HandlerLane::NoteError(const std::string& error) {
  common::MutexLock lock(status_mu_);
  status_.last_error = error;
  status_.last_error_at = absl::Now();
}

int HandlerLane::RunOnce() {
  const absl::Time now = absl::Now();
  if (Paused(now)) return 0;
  const bool redeliveries_due = now >= next_redelivery_check_;
  std::vector<storage::PartitionLease> partitions = keeper_.Acquire();
  absl::Cleanup release = [&] { keeper_.Done(partitions); };
  if (partitions.empty() && !redeliveries_due) return 0;
  storage::ReadOptions read;
  read.owner = keeper_.owner();
  read.partitions = partitions;
  read.event_types = event_types_;
  read.limit_per_partition = options_.batch_per_partition;
  read.max_redeliveries = redeliveries_due ? options_.max_redeliveries : 0;
  read.redelivery_lease = options_.redelivery_lease;
  read.mark_handed_out = handler_.reports_each();
  read.by_ticket = handler_.reports_each();
  absl::StatusOr<storage::HandlerBatchRead> batch = log_.Read(name_, read);
  if (!batch.ok()) {
    NoteError(batch.status());
    spdlog::warn("reading the event log failed handler={} error={}", name_,
                 common::LogValue(batch.status().ToString()));
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
  absl::flat_hash_map<int, int64_t> epochs;
  for (const auto& [lease, end] : batch.ends) epochs[lease.partition] = lease.epoch;
  absl::flat_hash_set<int64_t> in_batch;
  int redelivered = 0;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const storage::LoggedEvent& logged = batch.events[i];
    Item& item = items[i];
    item.logged = &logged;
    item.event = EventFromRecord(logged.event);
    if (logged.partition < 0) {
      // The claim counted this attempt; Attempt counts it again.
      item.attempts = std::max(0, logged.attempts - 1);
      item.first_failed_at = logged.first_failed_at;
      // A parked event's next attempt is a retry, not a redelivery.
      redelivered += logged.first_failed_at == absl::InfinitePast() ? 1 : 0;
      continue;
    }
    in_batch.insert(item.event.sequence);
    // Read again by this lane itself (it paused before reaching it): not a redelivery.
    auto own = handed_out_.find(logged.partition);
    const bool mine = own != handed_out_.end() && own->second.first == epochs[logged.partition] &&
                      !(own->second.second < logged.position);
    redelivered += logged.redelivered && !mine ? 1 : 0;
  }
  for (const auto& [lease, end] : batch.ends) handed_out_[lease.partition] = {lease.epoch, end};
  // Suspects not read again were finished by another owner meanwhile.
  for (auto it = suspects_.begin(); it != suspects_.end();) {
    if (in_batch.contains(it->first)) {
      ++it;
    } else {
      suspects_.erase(it++);
    }
  }
  if (redelivered > 0) {
    spdlog::info("events handed out again handler={} count={}", name_, redelivered);
    if (metrics_ != nullptr) metrics_->HandlerRedeliveries(name_, redelivered);
  }
  {
    common::MutexLock lock(status_mu_);
    status_.in_flight = static_cast<int>(items.size());
    status_.redelivered += redelivered;
  }
  if (handler_.reports_each()) {
    WorkEach(batch, items);
  } else {
    // A batch-at-once handler takes the batch whole.
    std::vector<size_t> all(items.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    WorkOn(all, items);
    {
      common::MutexLock lock(status_mu_);
      status_.breaker = breaker_.state();
    }
    Commit(batch, items);
  }
  common::MutexLock lock(status_mu_);
  status_.in_flight = 0;
  // Paused: the events that failed wait in the log for the next round.
  status_.retry_backlog = absl::Now() < resume_at_ ? static_cast<int>(suspects_.size()) : 0;
}

std::vector<size_t> HandlerLane::NextChunk(std::vector<Item>& items,
                                           absl::flat_hash_set<std::string>& queued_tickets) {
  std::vector<size_t> chunk;
  absl::flat_hash_set<std::string> tickets;
  const int own = handler_.calls_at_once();
  const size_t limit = static_cast<size_t>(std::max(1, own > 0 ? own : options_.call_chunk));
  for (size_t i = 0; i < items.size() && chunk.size() < limit; ++i) {
    Item& item = items[i];
    if (item.state != Item::State::kPending) continue;
    const std::string& ticket = item.event.ticket_id;
    if (!item.redelivery() && queued_tickets.contains(ticket)) {
      item.state = Item::State::kBehind;  // its ticket has a parked event ahead
      continue;
    }
    // One call per ticket at a time, so a ticket's events reach the API in order: a second one
    // waits for a later chunk.
    if (!tickets.insert(ticket).second) continue;
    chunk.push_back(i);
  }
  return chunk;
}

void HandlerLane::WorkEach(storage::HandlerBatchRead& batch, std::vector<Item>& items) {
  absl::flat_hash_map<int, storage::PartitionLease> leases;
  for (const auto& [lease, end] : batch.ends) leases[lease.partition] = lease;
  absl::flat_hash_set<std::string> queued;  // tickets with a parked or queued event ahead
  for (Item& item : items) {
    if (!item.redelivery() && item.logged->blocked) {
      item.state = Item::State::kBehind;
      queued.insert(item.event.ticket_id);
    }
  }
  absl::Time earliest_parked = absl::InfiniteFuture();
  while (!stopping()) {
    // Never a call for a partition no longer held: its new owner does that work.
    bool redeliveries_held = keeper_.Alive();
    for (Item& item : items) {
      if (item.state != Item::State::kPending) continue;
      const bool held =
          item.redelivery() ? redeliveries_held : keeper_.Holds(leases[item.logged->partition]);
      if (!held) item.state = Item::State::kLeft;
    }
    std::vector<size_t> chunk = NextChunk(items, queued);
    if (chunk.empty()) break;
    if (breaker_.probing()) {
      // Half-open: one probe, and never an event that already failed when another is at hand
      // (a parked one would keep the breaker open for an API that is fine).
      auto failed_before = [&](const Item& item) {
        return item.redelivery() ? item.first_failed_at != absl::InfinitePast()
                                 : suspects_.contains(item.event.sequence);
      };
      size_t probe = chunk.front();
      for (size_t i : chunk) {
        if (!failed_before(items[i])) {
          probe = i;
          break;
        }
      }
      chunk = {probe};
      breaker_.OnProbe();
    }
    const absl::Time start = absl::Now();
    std::vector<absl::Status> statuses;
    Attempt(chunk, items, &statuses);
    const absl::Time now = absl::Now();
    last_attempt_ = now;
    if (metrics_ != nullptr) metrics_->HandlerBatch(name_, now - start);

    int succeeded = 0, dead = 0, failed = 0, failed_fresh = 0;
    bool api_failure = false;
    absl::Duration retry_after = absl::ZeroDuration();
    for (size_t k = 0; k < chunk.size(); ++k) {
      const Item& item = items[chunk[k]];
      if (item.state == Item::State::kDone) {
        ++succeeded;
      } else if (item.state == Item::State::kDead) {
        ++dead;
      } else {
        ++failed;
        if (!item.redelivery()) ++failed_fresh;
        if (domain::IsApiFailure(statuses[k])) {
          api_failure = true;
          retry_after = std::max(retry_after, domain::RetryAfter(statuses[k]));
        }
      }
    }
    // The rule: the API is failing when it says so, or when no call of the chunk succeeded;
    // otherwise a failure is the event's own.
    const bool lane_failure = api_failure || (succeeded == 0 && failed_fresh > 0);
    int parked = 0, given_up = 0;
    const Item* first_failed = nullptr;
    auto give_up = [&](Item& item) {
      item.state = Item::State::kDead;
      item.reason = common::SafeText(
          absl::StrCat("gave up after retrying for ",
                       absl::FormatDuration(now - item.first_failed_at), ": ", item.reason),
          kMaxReason);
      ++given_up;
    };
    for (size_t i : chunk) {
      Item& item = items[i];
      if (item.state == Item::State::kDead) {
        spdlog::warn("dead letter handler={} event_id={} ticket_id={} correlation_id={} error={}",
                     name_, item.event.id, item.event.ticket_id, item.event.correlation_id,
                     common::LogValue(item.reason));
        continue;
      }
      if (item.state != Item::State::kPending) continue;
      if (first_failed == nullptr) first_failed = &item;
      if (item.redelivery()) {
        // A parked event failed again: its own schedule, whatever the lane does.
        if (item.first_failed_at == absl::InfinitePast()) item.first_failed_at = now;
        if (now - item.first_failed_at >= options_.retry.retry_for) {
          give_up(item);
          continue;
        }
        item.state = Item::State::kParked;
        item.next_attempt = now + Backoff(options_.retry, std::max(1, item.attempts));
        earliest_parked = std::min(earliest_parked, item.next_attempt);
        continue;
      }
      Suspect& suspect = suspects_.try_emplace(item.event.sequence, Suspect{now, 0}).first->second;
      ++suspect.failures;
      item.first_failed_at = suspect.first_failed;
      if (now - suspect.first_failed >= options_.retry.retry_for) {
        give_up(item);
        suspects_.erase(item.event.sequence);
        continue;
      }
      if (lane_failure) continue;  // stays in the log; the lane pauses
      item.state = Item::State::kParked;
      item.next_attempt = now + Backoff(options_.retry, suspect.failures);
      earliest_parked = std::min(earliest_parked, item.next_attempt);
      queued.insert(item.event.ticket_id);
      suspects_.erase(item.event.sequence);
      ++parked;
      spdlog::warn(
          "event parked: the API refused it while other calls succeeded handler={} event_id={} "
          "ticket_id={} correlation_id={} retry_in_ms={} error={}",
          name_, item.event.id, item.event.ticket_id, item.event.correlation_id,
          absl::ToInt64Milliseconds(item.next_attempt - now), common::LogValue(item.reason));
    }
    if (given_up > 0) {
      spdlog::warn("dead letters handler={} count={} reason={}", name_, given_up,
                   common::LogValue(first_failed != nullptr ? first_failed->reason : ""));
    }
    if (metrics_ != nullptr) {
      if (succeeded > 0) metrics_->Deliveries(name_, "success", succeeded);
      if (dead + given_up > 0) metrics_->Deliveries(name_, "dead_letter", dead + given_up);
      if (failed > 0) metrics_->Deliveries(name_, "retry", failed);
      if (parked > 0) metrics_->Deliveries(name_, "parked", parked);
    }
    if (lane_failure) {
      breaker_.OnFailures(std::max(1, failed));
      ++failed_rounds_;
      resume_at_ = now + std::max(Backoff(options_.retry, failed_rounds_), retry_after);
      api_pause_ = api_failure;
      fresh_events_.store(false, std::memory_order_release);
    } else if (succeeded > 0) {
      breaker_.OnSuccess();
      failed_rounds_ = 0;
    }
    int left = 0;
    for (const Item& item : items) left += item.state == Item::State::kPending ? 1 : 0;
    {
      common::MutexLock lock(status_mu_);
      status_.succeeded += succeeded;
      status_.dead_lettered += dead + given_up;
      status_.retried += failed;
      status_.parked_here += parked;
      status_.in_flight = left;
      status_.retry_backlog = lane_failure ? left : 0;
      status_.breaker = breaker_.state();
      if (first_failed != nullptr) {
        status_.last_error = first_failed->reason;
        status_.last_error_at = now;
      }
    }
    if (lane_failure) {
      spdlog::warn(
          "handler failing, lane paused handler={} failed={} retry_in_ms={} breaker={} "
          "api_said_so={} event_id={} correlation_id={} error={}",
          name_, failed, absl::ToInt64Milliseconds(resume_at_ - now),
          breaker_.state() == CircuitBreaker::State::kClosed ? "closed" : "open", api_failure,
          first_failed->event.id, first_failed->event.correlation_id,
          common::LogValue(first_failed->reason));
    }
    // Stopping or paused: what is done is recorded; the rest of the batch stays in the log (for
    // the next round, with whatever came after it, or for the next owner).
    if (!Commit(batch, items) || lane_failure) break;
  }
  if (earliest_parked < next_redelivery_check_) next_redelivery_check_ = earliest_parked;
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
    const Item* first_failed = nullptr;
    for (size_t i : pending) {
      Item& item = items[i];
      if (item.state == Item::State::kDone) {
        ++succeeded;
      } else if (item.state == Item::State::kDead) {
        ++dead;
        spdlog::warn("dead letter handler={} event_id={} ticket_id={} correlation_id={} error={}",
                     name_, item.event.id, item.event.ticket_id, item.event.correlation_id,
                     common::LogValue(item.reason));
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
      common::MutexLock lock(status_mu_);
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
      common::MutexLock lock(status_mu_);
      status_.breaker = breaker_.state();
      status_.last_error = error;
      status_.last_error_at = now;
    }
    if (now - first_failure >= options_.retry.retry_for) {
      const std::string reason =
          common::SafeText(absl::StrCat("gave up after retrying for ",
                                        absl::FormatDuration(now - first_failure), ": ", error),
                           kMaxReason);
      int given_up = 0;
      for (size_t i : part) {
        if (items[i].state != Item::State::kPending) continue;
        items[i].state = Item::State::kDead;
        items[i].reason = reason;
        ++given_up;
      }
      spdlog::warn("dead letters handler={} count={} reason={}", name_, given_up,
                   common::LogValue(reason));
      if (metrics_ != nullptr) metrics_->Deliveries(name_, "dead_letter", given_up);
      common::MutexLock lock(status_mu_);
      status_.dead_lettered += given_up;
      return true;
    }
    const absl::Duration wait = Backoff(options_.retry, failed_rounds);
    spdlog::warn(
        "handler failed, will retry handler={} failed={} left={} retry_in_ms={} breaker={} "
        "event_id={} correlation_id={} error={}",
        name_, retryable, left, absl::ToInt64Milliseconds(wait),
        breaker_.state() == CircuitBreaker::State::kClosed ? "closed" : "open",
        first_failed->event.id, first_failed->event.correlation_id, common::LogValue(error));
    if (!SleepUnlessStopped(wait)) return false;
  }
}

void HandlerLane::Attempt(const std::vector<size_t>& subset, std::vector<Item>& items,
                          std::vector<absl::Status>* statuses) {
  std::vector<const domain::Event*> events;
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
    } else if (domain::IsRetryable(results[k])) {
      item.reason = Reason(results[k]);
    } else {
      item.state = Item::State::kDead;
      item.reason = common::SafeText(
          absl::StrCat("not retryable (attempt ", item.attempts, "): ", Reason(results[k])),
          kMaxReason);
    }
  }
  if (statuses != nullptr) *statuses = std::move(results);
}

// A handler that succeeds or fails as a whole: a permanent failure is narrowed down by halves,
// so the events that are fine get done and only the one at fault fails.
void HandlerLane::AttemptWhole(absl::Span<const domain::Event* const> events,
                               absl::Span<absl::Status> results) {
  const absl::Status status = handler_.Handle(events);
  if (status.ok() || domain::IsRetryable(status) || events.size() == 1) {
    for (absl::Status& result : results) result = status;
    return;
  }
  const size_t half = events.size() / 2;
  AttemptWhole(events.subspan(0, half), results.subspan(0, half));
  AttemptWhole(events.subspan(half), results.subspan(half));
}

namespace {

// Adds what became of `item` to `progress` (partition -1: a redelivery).
template <typename ItemT>
void AddOutcome(const ItemT& item, int partition, storage::HandlerProgress& progress) {
  using State = typename ItemT::State;
  const int64_t sequence = item.event.sequence;
  switch (item.state) {
    case State::kDone:
      if (partition < 0) progress.redeliveries_done.push_back(sequence);
      progress.finished.push_back({sequence, partition, item.event.note});
      break;
    case State::kDead:
      progress.dead_letters.push_back({sequence, partition, item.attempts, item.reason});
      break;
    case State::kParked:
      progress.parked.push_back({sequence, partition, item.event.ticket_id, item.next_attempt,
                                 item.first_failed_at, item.reason, item.attempts});
      break;
    case State::kBehind:  // due at once, but claimed only once the ones ahead are gone
      progress.parked.push_back(
          {sequence, partition, item.event.ticket_id, absl::Now(), absl::InfinitePast(), "", 0});
      break;
    case State::kPending:
    case State::kLeft:
      break;
  }
}

bool Empty(const storage::HandlerProgress& progress) {
  return progress.checkpoints.empty() && progress.redeliveries_done.empty() &&
         progress.dead_letters.empty() && progress.parked.empty();
}

}  // namespace

storage::HandlerProgress HandlerLane::Progress(const storage::HandlerBatchRead& batch,
                                               const std::vector<Item>& items,
                                               std::vector<size_t>& recorded) const {
  storage::HandlerProgress progress;
  progress.owner = keeper_.owner();
  // Per partition, the checkpoint moves to the last event before the first one not final.
  size_t i = 0;
  for (const auto& [lease, end] : batch.ends) {
    std::optional<storage::LogPosition> reached;
    bool blocked = false, fresh = false;
    for (; i < items.size() && items[i].logged->partition == lease.partition; ++i) {
      const Item& item = items[i];
      if (blocked || !item.final()) {
        blocked = true;
        continue;
      }
      reached = item.logged->position;
      if (item.recorded) continue;
      fresh = true;
      recorded.push_back(i);
      AddOutcome(item, lease.partition, progress);
    }
    if (reached.has_value() && fresh) progress.checkpoints.push_back({lease, *reached});
  }
  for (; i < items.size(); ++i) {  // redeliveries
    if (!items[i].final() || items[i].recorded) continue;
    recorded.push_back(i);
    AddOutcome(items[i], -1, progress);
  }
  return progress;
}

bool HandlerLane::Commit(const storage::HandlerBatchRead& batch, std::vector<Item>& items) {
  std::vector<size_t> recorded;
  const storage::HandlerProgress progress = Progress(batch, items, recorded);
  if (Empty(progress)) return true;
  // The work is done: record it even while stopping, within a bound.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<storage::CommitResult> result = log_.Commit(name_, progress);
    if (result.ok()) {
      for (size_t i : recorded) items[i].recorded = true;
      OnCommitted(*result, batch);
      if (result->stale.empty()) return true;
      // Taken over: no more calls for those partitions, their events are the new owner's.
      const absl::flat_hash_set<int> stale(result->stale.begin(), result->stale.end());
      for (Item& item : items) {
        if (item.state == Item::State::kPending && !item.redelivery() &&
            stale.contains(item.logged->partition)) {
          item.state = Item::State::kLeft;
        }
      }
      return false;
    }
    NoteError(result.status());
    if (RefusedForGood(result.status())) {
      CommitOneByOne(batch, items, result.status());
      return true;
    }
    if (absl::Now() >= deadline && stopping()) {
      spdlog::warn("progress not recorded, it will be redone handler={} error={}", name_,
                   common::LogValue(result.status().ToString()));
      return false;
    }
    spdlog::warn("recording progress failed, will retry handler={} error={}", name_,
                 common::LogValue(result.status().ToString()));
    absl::SleepFor(std::min(absl::Seconds(2), absl::Milliseconds(100) * attempt));
  }
}

void HandlerLane::CommitOneByOne(const storage::HandlerBatchRead& batch, std::vector<Item>& items,
                                 const absl::Status& refusal) {
  spdlog::error(
      "the database refused the handler's progress for good, recording event by event "
      "handler={} error={}",
      name_, common::LogValue(refusal.ToString()));
  absl::flat_hash_map<int, storage::PartitionLease> leases;
  for (const auto& [lease, end] : batch.ends) leases[lease.partition] = lease;
  absl::flat_hash_set<int> stopped;  // partitions whose checkpoint cannot pass an item
  for (Item& item : items) {
    const int partition = item.logged->partition;
    if (item.recorded || stopped.contains(partition)) continue;
    if (!item.final()) {
      if (partition >= 0) stopped.insert(partition);
      continue;
    }
    auto one = [&](const Item& outcome) {
      storage::HandlerProgress progress;
      progress.owner = keeper_.owner();
      if (partition >= 0)
        progress.checkpoints.push_back({leases[partition], item.logged->position});
      AddOutcome(outcome, partition, progress);
      return log_.Commit(name_, progress);
    };
    absl::StatusOr<storage::CommitResult> result = one(item);
    if (!result.ok() && RefusedForGood(result.status())) {
      // This event's outcome is what the database refuses: keep the event as a dead letter
      // whose reason is plain ASCII, so an operator sees it and the lane goes on.
      Item dead = item;
      dead.state = Item::State::kDead;
      dead.reason = Ascii(absl::StrCat(
          "the database refused to record this event's outcome (", result.status().message(),
          "); outcome was: ", item.reason.empty() ? "done" : item.reason));
      spdlog::warn("dead letter handler={} event_id={} ticket_id={} correlation_id={} error={}",
                   name_, item.event.id, item.event.ticket_id, item.event.correlation_id,
                   common::LogValue(dead.reason));
      result = one(dead);
      if (result.ok()) item = std::move(dead);
    }
    if (!result.ok()) {
      spdlog::error("progress not recorded, it will be redone handler={} event_id={} error={}",
                    name_, item.event.id, common::LogValue(result.status().ToString()));
      if (partition >= 0) stopped.insert(partition);
      continue;
    }
    item.recorded = true;
    OnCommitted(*result, batch);
    if (!result->stale.empty()) stopped.insert(partition);
  }
}

void HandlerLane::OnCommitted(const storage::CommitResult& result,
                              const storage::HandlerBatchRead& batch) {
  if (options_.on_progress) options_.on_progress();
  if (result.stale.empty()) return;
  spdlog::warn("progress dropped: partitions changed owner handler={} partitions={}", name_,
               result.stale.size());
  for (const auto& [lease, end] : batch.ends) {
    if (std::find(result.stale.begin(), result.stale.end(), lease.partition) !=
        result.stale.end()) {
      keeper_.Lost(lease);
    }
  }
  if (metrics_ != nullptr) {
    metrics_->HandlerStaleCommits(name_, static_cast<int>(result.stale.size()));
  }
  common::MutexLock lock(status_mu_);
  status_.stale_commits += static_cast<long long>(result.stale.size());
}

HandlerStatus HandlerLane::status() const {
  common::MutexLock lock(status_mu_);
  return status_;
}

}  // namespace booking::delivery
