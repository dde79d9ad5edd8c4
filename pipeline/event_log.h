#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "domain/event.h"

namespace booking::pipeline {

// The call an append answers: its idempotency key and a fingerprint of its request, remembered
// with its answer so that the key names one request. An empty key: no call identity, each
// event's own idempotency key still deduplicates.
struct CallIdentity {
  std::string idempotency_key;  // ScopedKey(caller, key) when the call has a caller
  std::string fingerprint;
  // The key as the client sent it, when idempotency_key is scoped: a call remembered under it
  // (before keys were scoped: an older version, or tokens off) is still found, never redone.
  std::string unscoped_key{};
};

// A caller's key, so that callers cannot claim or probe each other's keys: "<caller>:<key>".
// A caller name holds no ':' (token_authenticator.h), so no two callers' keys meet.
inline std::string ScopedKey(std::string_view caller, std::string_view key) {
  if (caller.empty()) return std::string(key);
  std::string scoped;
  scoped.reserve(caller.size() + 1 + key.size());
  scoped.append(caller).append(1, ':').append(key);
  return scoped;
}

struct AppendResult {
  enum class Outcome {
    kPublished,  // the key is new: the events were published
    kReplayed,   // the key is known with the same request: nothing published
    kKeyReused,  // the key is known with a different request: nothing published
  };
  // kPublished: events made durable and published by this append (events whose own idempotency
  // key was already accepted are skipped and not counted). kReplayed: the first call's count.
  int published = 0;
  Outcome outcome = Outcome::kPublished;
};

// Where the service hands accepted events. An implementation makes them durable, gives them
// their publish order (Event::sequence) and passes them on to the workers.
class EventLog {
 public:
  using AppendCallback = absl::AnyInvocable<void(absl::StatusOr<AppendResult>) &&>;

  virtual ~EventLog() = default;

  // Appends the events of one call, all or nothing, and runs `done` exactly once: OK only after
  // they are durable (or, for a known key, with what the log remembers); UNAVAILABLE when the
  // log could not store them; RESOURCE_EXHAUSTED when it is saturated; ABORTED when another
  // call with the same key is being committed at this moment. `done` may run on the caller's
  // thread or on the log's own; it must not block.
  virtual void Append(CallIdentity call, std::vector<domain::Event> events,
                      AppendCallback done) = 0;

  // Events of no call.
  void Append(std::vector<domain::Event> events, AppendCallback done) {
    Append(CallIdentity{}, std::move(events), std::move(done));
  }
};

}  // namespace booking::pipeline
