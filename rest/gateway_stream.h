#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/client_callback.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/periodic_task.h"
#include "http/types.h"

namespace google::protobuf {
class Descriptor;
}

namespace booking::rest {

// A server-streaming RPC answered over HTTP, as grpc-gateway does: newline-delimited JSON
// (`{"result": <message>}` per message, `{"error": {...}}` if the stream fails, an empty line
// after `heartbeat` of silence), or, when the client accepts `text/event-stream`, Server-Sent
// Events (`id:` the message's `resume_token` when it has one, `data:` the message, a
// `: heartbeat` comment after `heartbeat` of silence, `event: error` if the stream fails). Pulls
// one message at a time, only when the HTTP side has written the previous one, so a slow client
// holds the gRPC stream back (and its server side ends it) instead of filling memory here.
class GatewayStream {
 public:
  // Keeps time for every open stream from one thread (no timer per stream): a stream's 200 once
  // the moment a refusal would take has passed, and the heartbeats.
  class Clock {
   public:
    class Timed {
     public:
      virtual ~Timed() = default;
      virtual void Tick(absl::Time now) = 0;
    };
    explicit Clock(absl::Duration tick = absl::Milliseconds(25));
    ~Clock();  // stops ticking; streams still open get no more heartbeats
    void Add(std::weak_ptr<Timed> timed);

   private:
    void TickAll();
    common::Mutex mu_;
    std::vector<std::weak_ptr<Timed>> timed_ ABSL_GUARDED_BY(mu_);
    common::PeriodicTask task_;
  };

  enum class Format { kNdjson, kSse };
  struct Options {
    Format format = Format::kNdjson;
    absl::Duration heartbeat = absl::Seconds(15);
    Clock* clock = nullptr;  // required; outlives the transcoder's routes
  };

  // Starts the call (`context` carries the metadata); `done` gets the 200 response with the
  // body stream once the server has accepted the call, or the error response if it refused.
  static void Start(grpc::GenericStub& stub, const std::string& method,
                    std::unique_ptr<grpc::ClientContext> context, std::string request,
                    const google::protobuf::Descriptor* output_type, Options options,
                    absl::AnyInvocable<void(http::Response)> done);
};

}  // namespace booking::rest
