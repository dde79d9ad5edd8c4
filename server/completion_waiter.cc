#include "server/completion_waiter.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/log_value.h"
#include "spdlog/spdlog.h"

namespace booking::server {

using State = storage::HandlerState::State;

CompletionWaiter::CompletionWaiter(storage::ProgressReader& reader,
                                   std::vector<std::string> storing_handlers,
                                   absl::Duration interval)
    : reader_(reader),
      storing_handlers_(std::move(storing_handlers)),
      task_("wait-poll", interval, [this] { Poll(); }) {}

CompletionWaiter::~CompletionWaiter() { Stop(); }

void CompletionWaiter::Start() { task_.Start(); }

void CompletionWaiter::Stop() {
  task_.Stop();
  std::vector<std::unique_ptr<Waiting>> left;
  {
    common::MutexLock lock(mu_);
    stopped_ = true;
    left.swap(waiting_);
  }
  for (auto& waiting : left) {
    waiting->done(Outcome{.reached = false, .states = std::move(waiting->states)});
  }
}

size_t CompletionWaiter::waiting() const {
  common::MutexLock lock(mu_);
  return waiting_.size();
}

void CompletionWaiter::Wait(std::vector<std::string> event_keys, Level level, absl::Time deadline,
                            Done done) {
  auto waiting = std::make_unique<Waiting>();
  waiting->keys = std::move(event_keys);
  waiting->level = level;
  waiting->deadline = deadline;
  waiting->done = std::move(done);
  {
    common::MutexLock lock(mu_);
    if (!stopped_) {
      waiting_.push_back(std::move(waiting));
      waiting = nullptr;
    }
  }
  if (waiting != nullptr) {  // shutting down: answer with what is known (nothing)
    waiting->done(Outcome{});
    return;
  }
  task_.Wake();
}

CompletionWaiter::Verdict CompletionWaiter::Judge(
    Level level, size_t events, const std::vector<storage::HandlerState>& states) const {
  // Per event: is every handler that matters finished, and is any still able to change?
  std::map<std::string, std::pair<bool, bool>> per_event;  // key -> (all finished, all final)
  for (const storage::HandlerState& state : states) {
    if (level == Level::kStored && std::find(storing_handlers_.begin(), storing_handlers_.end(),
                                             state.handler) == storing_handlers_.end()) {
      continue;
    }
    auto [it, inserted] = per_event.try_emplace(state.idempotency_key, true, true);
    // COMPLETED counts a dead letter as done with (nothing more will happen); STORED does not,
    // since the ticket is then not stored.
    const bool finished = state.state == State::kFinished ||
                          (level == Level::kCompleted && state.state == State::kDeadLettered);
    it->second.first &= finished;
    it->second.second &= state.state != State::kPending;
  }
  Verdict verdict{.reached = per_event.size() == events, .final = per_event.size() == events};
  for (const auto& [key, event] : per_event) {
    verdict.reached &= event.first;
    verdict.final &= event.second;
  }
  return verdict;
}

void CompletionWaiter::Poll() {
  std::vector<std::string> keys;
  {
    common::MutexLock lock(mu_);
    if (waiting_.empty()) return;
    std::set<std::string> unique;
    for (const auto& waiting : waiting_) unique.insert(waiting->keys.begin(), waiting->keys.end());
    keys.assign(unique.begin(), unique.end());
  }
  absl::StatusOr<std::vector<storage::HandlerState>> states = reader_.Read(keys);
  if (!states.ok() && absl::Now() - last_error_log_ > absl::Seconds(10)) {
    last_error_log_ = absl::Now();
    spdlog::warn("reading handler progress for waiting calls failed error={}",
                 common::LogValue(states.status().ToString()));
  }
  std::map<std::string, std::vector<storage::HandlerState>> by_key;
  if (states.ok()) {
    for (storage::HandlerState& state : *states) {
      by_key[state.idempotency_key].push_back(std::move(state));
    }
  }
  const absl::Time now = absl::Now();
  std::vector<std::pair<std::unique_ptr<Waiting>, bool>> answered;
  {
    common::MutexLock lock(mu_);
    for (auto& waiting : waiting_) {
      if (states.ok()) {
        waiting->states.clear();
        for (const std::string& key : waiting->keys) {
          auto it = by_key.find(key);
          if (it == by_key.end()) continue;
          waiting->states.insert(waiting->states.end(), it->second.begin(), it->second.end());
        }
      }
      const Verdict verdict = Judge(waiting->level, waiting->keys.size(), waiting->states);
      if (verdict.reached || verdict.final || now >= waiting->deadline) {
        answered.emplace_back(std::move(waiting), verdict.reached);
      }
    }
    waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), nullptr), waiting_.end());
  }
  for (auto& [waiting, reached] : answered) {
    waiting->done(Outcome{.reached = reached, .states = std::move(waiting->states)});
  }
}

}  // namespace booking::server
