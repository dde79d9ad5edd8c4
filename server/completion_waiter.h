#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/periodic_task.h"
#include "storage/progress_reader.h"

namespace booking::server {

// UpdateTicketsStatus calls that asked to wait until their events were handled (STORED or
// COMPLETED). No thread waits per call: one polling thread reads the progress of every waiting
// call in one query, every `interval` while any call waits (and at once when woken), and
// answers each call when its level is reached, can no longer be reached (a dead letter), or its
// deadline comes. Reading the shared log, it sees work done by any instance.
class CompletionWaiter {
 public:
  enum class Level { kStored, kCompleted };
  struct Outcome {
    bool reached = false;
    std::vector<storage::HandlerState> states;  // the last progress read for the call's events
  };
  using Done = absl::AnyInvocable<void(Outcome)>;

  // `storing_handlers`: the handlers that write the tickets table (STORED waits for them).
  CompletionWaiter(storage::ProgressReader& reader, std::vector<std::string> storing_handlers,
                   absl::Duration interval = absl::Milliseconds(20));
  ~CompletionWaiter();  // Stop()
  CompletionWaiter(const CompletionWaiter&) = delete;
  CompletionWaiter& operator=(const CompletionWaiter&) = delete;

  void Start();
  // Answers every call still waiting with what is known (not reached), then stops polling.
  void Stop();

  // Calls `done` once, from the polling thread (or from Stop), for the events with these
  // idempotency keys.
  void Wait(std::vector<std::string> event_keys, Level level, absl::Time deadline, Done done);
  // A handler finished something: poll now rather than at the next interval.
  void Wake() { task_.Wake(); }
  // Polls now and returns once that poll is over (false if stopped or `timeout` passed): lets a
  // test step the waiter instead of sleeping through its interval.
  [[nodiscard]] bool PollNow(absl::Duration timeout = absl::Seconds(30)) {
    return task_.RunNow(timeout);
  }

  size_t waiting() const;

  // Whether `states` (one call's) reach `level`, and whether waiting longer can change that.
  struct Verdict {
    bool reached = false;
    bool final = false;
  };
  Verdict Judge(Level level, size_t events, const std::vector<storage::HandlerState>& states) const;

 private:
  struct Waiting {
    std::vector<std::string> keys;
    Level level;
    absl::Time deadline;
    Done done;
    std::vector<storage::HandlerState> states;
  };
  void Poll();

  storage::ProgressReader& reader_;
  const std::vector<std::string> storing_handlers_;
  mutable common::Mutex mu_;
  std::vector<std::unique_ptr<Waiting>> waiting_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_error_log_ = absl::InfinitePast();  // polling thread only
  common::PeriodicTask task_;
};

}  // namespace booking::server
