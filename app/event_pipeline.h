#pragma once

#include <functional>

#include "absl/time/time.h"
#include "pipeline/event_log.h"
#include "server/completion_waiter.h"
#include "server/watch_hub.h"
#include "tickets/v1/admin.pb.h"

namespace booking::app {

// Where the service publishes accepted events and how they reach the handlers: the durable log
// (PostgreSQL, one lane per handler) or the in-memory one (a queue and worker threads). The one
// place the application tells the two apart.
class EventPipeline {
 public:
  virtual ~EventPipeline() = default;

  virtual bool durable() const = 0;
  virtual pipeline::EventLog& log() = 0;
  // What calls that wait for their handlers and WatchTickets streams read (durable only: the
  // in-memory log keeps no progress to read).
  virtual server::CompletionWaiter* waiter() { return nullptr; }
  virtual server::WatchHub* watch() { return nullptr; }
  // GetHandlerStatus of this instance (durable only).
  virtual tickets::v1::GetHandlerStatusResponse HandlerStatus() const { return {}; }

  // Before the servers drain: ends watch streams (resumable elsewhere) and answers waiting calls
  // with what is known, so neither holds the stop.
  virtual void StopStreams() {}
  // After the servers stopped: commits what is pending, lets the handlers finish what they hold
  // until `deadline` (the whole stop's: whatever the servers left of it); `hurry` runs if they
  // are still busy then (aborts external calls).
  virtual void Stop(absl::Time deadline, const std::function<void()>& hurry) = 0;
};

}  // namespace booking::app
