#include "server/watch_hub.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/log_value.h"
#include "spdlog/spdlog.h"

namespace booking::server {

std::vector<storage::StepRecord> WatchSubscription::Take(size_t max) {
  common::MutexLock lock(mu_);
  std::vector<storage::StepRecord> taken;
  while (!queue_.empty() && taken.size() < max) {
    taken.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return taken;
}

absl::Status WatchSubscription::ended() const {
  common::MutexLock lock(mu_);
  return ended_;
}

size_t WatchSubscription::queued() const {
  common::MutexLock lock(mu_);
  return queue_.size();
}

bool WatchSubscription::Push(storage::StepRecord step, size_t buffer) {
  common::MutexLock lock(mu_);
  if (queue_.size() >= buffer) return false;
  queue_.push_back(std::move(step));
  return true;
}

void WatchSubscription::End(absl::Status status) {
  common::MutexLock lock(mu_);
  if (ended_.ok()) ended_ = std::move(status);
}

WatchHub::WatchHub(storage::StepLog& steps, WatchOptions options)
    : steps_(steps), options_(options), task_("watch", options.poll, [this] { Round(); }) {}

WatchHub::~WatchHub() { Stop(); }

void WatchHub::Start() { task_.Start(); }

void WatchHub::Stop() {
  std::vector<Subscription> ended;
  {
    common::MutexLock lock(mu_);
    stopped_ = true;
    ended.swap(all_);
    by_ticket_.clear();
    every_ticket_.clear();
  }
  for (const Subscription& s : ended) {
    s->End(absl::UnavailableError(
        "the server is shutting down; watch again (on any instance) with the last resume_token"));
    s->wake();
  }
  task_.Stop();
}

std::shared_ptr<WatchSubscription> WatchHub::Subscribe(std::vector<std::string> ticket_ids,
                                                       std::optional<storage::LogPosition> resume,
                                                       std::function<void()> wake) {
  Subscription s(new WatchSubscription(std::move(ticket_ids), std::move(wake)));
  bool history = false;
  {
    common::MutexLock lock(mu_);
    if (stopped_) {
      s->End(absl::UnavailableError("the server is shutting down"));
      return s;
    }
    if (resume.has_value()) {
      s->after = *resume;
      s->resume_unchecked = true;
      history = true;
    } else if (!s->ticket_ids.empty()) {
      s->after = {};  // everything recorded about these tickets
      history = true;
    } else {
      s->after = cursor_;
      s->positioned = positioned_;
    }
    s->wants_history = history;
    s->ready_.store(s->positioned, std::memory_order_release);
    all_.push_back(s);
    if (s->ticket_ids.empty()) {
      every_ticket_.push_back(s);
    } else {
      for (const std::string& id : s->ticket_ids) by_ticket_[id].push_back(s);
    }
  }
  task_.Wake();  // position and read at once rather than at the next poll
  return s;
}

void WatchHub::Unsubscribe(const std::shared_ptr<WatchSubscription>& subscription) {
  common::MutexLock lock(mu_);
  Remove(subscription);
}

void WatchHub::Remove(const Subscription& s) {
  auto erase = [&](std::vector<Subscription>& list) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i] == s) {
        list[i] = std::move(list.back());
        list.pop_back();
        return;
      }
    }
  };
  erase(all_);
  if (s->ticket_ids.empty()) {
    erase(every_ticket_);
    return;
  }
  for (const std::string& id : s->ticket_ids) {
    auto it = by_ticket_.find(id);
    if (it == by_ticket_.end()) continue;
    erase(it->second);
    if (it->second.empty()) by_ticket_.erase(it);
  }
}

size_t WatchHub::subscribers() const {
  common::MutexLock lock(mu_);
  return all_.size();
}

void WatchHub::RunOnce() { Round(); }

bool WatchHub::Deliver(const Subscription& s, const storage::StepRecord& step) {
  if (!s->positioned || s->wants_history || !(s->after < step.position)) return true;
  return s->Push(step, options_.buffer);
}

void WatchHub::LogError(const absl::Status& status) {
  const absl::Time now = absl::Now();
  if (now - last_error_log_ < absl::Seconds(10)) return;
  last_error_log_ = now;
  spdlog::warn("watch: reading ticket steps failed, will retry error={}",
               common::LogValue(status.ToString()));
}

void WatchHub::Round() {
  common::MutexLock round(round_mu_);
  std::vector<Subscription> fresh;
  std::vector<std::pair<Subscription, storage::LogPosition>> resumes;
  bool idle = false;
  {
    common::MutexLock lock(mu_);
    idle = all_.empty();
    for (const Subscription& s : all_) {
      if (s->wants_history) fresh.push_back(s);
      if (s->resume_unchecked) resumes.emplace_back(s, s->after);
    }
  }
  for (const auto& [s, token] : resumes) {
    absl::StatusOr<storage::LogPosition> resumed = steps_.Resume(token);
    if (!resumed.ok()) {
      LogError(resumed.status());  // still unchecked: tried again next round
      continue;
    }
    if (!(*resumed == token)) {
      spdlog::info("watch resumes from a token older than the log's rebase token={} now={}",
                   ResumeToken(token), ResumeToken(*resumed));
    }
    common::MutexLock lock(mu_);
    s->after = *resumed;
    s->resume_unchecked = false;
  }
  if (idle) {
    // Nobody watches on this instance: no query at all. The next stream "from now" positions
    // the hub again (one index lookup), so an idle hub costs the database nothing.
    common::MutexLock lock(mu_);
    if (all_.empty()) positioned_ = false;
    return;
  }
  if (!positioned_) {
    absl::StatusOr<storage::LogPosition> latest = steps_.Latest();
    if (!latest.ok()) {
      LogError(latest.status());
      return;
    }
    std::vector<Subscription> placed;
    {
      common::MutexLock lock(mu_);
      positioned_ = true;
      cursor_ = *latest;
      for (const Subscription& s : all_) {
        if (!s->positioned) {
          s->after = cursor_;
          s->positioned = true;
          s->ready_.store(true, std::memory_order_release);
          placed.push_back(s);
        }
      }
    }
    for (const Subscription& s : placed) s->wake();  // without locks: it may send headers now
  }

  std::vector<Subscription> woken;
  std::vector<Subscription> overflowed;
  // New (or resumed) streams first get what is recorded up to the cursor, a page at a time as
  // they make room (so catching up is bounded like everything else); live steps follow.
  for (const Subscription& s : fresh) {
    bool unchecked = false;
    {
      common::MutexLock lock(mu_);
      unchecked = s->resume_unchecked;
    }
    if (unchecked) continue;  // its position is not known yet
    const size_t queued = s->queued();
    if (queued >= options_.buffer) continue;  // still draining the last page
    const size_t room = options_.buffer - queued;
    absl::StatusOr<std::vector<storage::StepRecord>> page =
        steps_.ReadRange(s->ticket_ids, s->after, cursor_, static_cast<int>(room));
    if (!page.ok()) {
      LogError(page.status());  // it stays fresh: tried again next round
      continue;
    }
    common::MutexLock lock(mu_);
    woken.push_back(s);
    for (storage::StepRecord& step : *page) {
      s->after = step.position;
      s->Push(std::move(step), options_.buffer);  // fits: at most `room`
    }
    if (page->size() < room) s->wants_history = false;  // caught up with the cursor
  }
  // Live steps, in order; a few reads per round at most, so a burst cannot hold the thread.
  for (int read = 0; read < 10; ++read) {
    absl::StatusOr<std::vector<storage::StepRecord>> steps =
        steps_.ReadAfter(cursor_, options_.read_limit);
    if (!steps.ok()) {
      LogError(steps.status());
      break;
    }
    if (steps->empty()) break;
    common::MutexLock lock(mu_);
    for (const storage::StepRecord& step : *steps) {
      auto deliver = [&](const Subscription& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        if (!Deliver(s, step)) {
          overflowed.push_back(s);
        } else if (!s->wants_history) {
          woken.push_back(s);
        }
      };
      if (auto it = by_ticket_.find(step.ticket_id); it != by_ticket_.end()) {
        for (const Subscription& s : it->second) deliver(s);
      }
      for (const Subscription& s : every_ticket_) deliver(s);
    }
    cursor_ = steps->back().position;
    for (const Subscription& s : overflowed) Remove(s);
    if (steps->size() < static_cast<size_t>(options_.read_limit)) break;
  }
  for (const Subscription& s : overflowed) {
    s->End(absl::ResourceExhaustedError(
        absl::StrCat("the stream fell more than ", options_.buffer,
                     " steps behind; read faster, or watch again with the last resume_token")));
    {
      common::MutexLock lock(mu_);
      Remove(s);
    }
    woken.push_back(s);
  }
  // One wake per subscription, without locks: a wake may finish a stream, which unsubscribes.
  std::sort(woken.begin(), woken.end());
  woken.erase(std::unique(woken.begin(), woken.end()), woken.end());
  for (const Subscription& s : woken) s->wake();
}

std::string ResumeToken(const storage::LogPosition& position) {
  return absl::StrCat(position.tx, ".", position.sequence);
}

std::optional<storage::LogPosition> ParseResumeToken(const std::string& token) {
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  storage::LogPosition position;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &position.tx) ||
      !absl::SimpleAtoi(parts[1], &position.sequence) || position.sequence < 0) {
    return std::nullopt;
  }
  return position;
}

}  // namespace booking::server
