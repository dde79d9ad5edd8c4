#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/event_publisher.h"
#include "common/mutex.h"

// cnats' types, kept out of the includers.
typedef struct __natsOptions natsOptions;
typedef struct __natsConnection natsConnection;
typedef struct __jsCtx jsCtx;
typedef struct __natsMsg natsMsg;
typedef struct jsPubAck jsPubAck;
typedef struct jsPubAckErr jsPubAckErr;

namespace booking::clients {

struct NatsJetStreamOptions {
  // nats://host:port or tls://host:port, any number: the client picks one, learns the rest of
  // the cluster from it, and fails over between them.
  std::vector<std::string> servers;
  std::string stream = "TICKET_EVENTS";
  std::string subjects = "tickets.v1.>";
  int replicas = 3;                                       // when the stream is created here
  absl::Duration duplicate_window = absl::Hours(24 * 7);  // likewise
  std::string credentials_file;  // a .creds file (user JWT and NKey seed); empty: none
  std::string tls_ca_file;       // the CA that signed the servers' certificates; empty: no TLS
  std::string tls_cert_file;     // a client certificate (mutual TLS), with tls_key_file
  std::string tls_key_file;
  absl::Duration ack_timeout = absl::Seconds(5);  // per publish and per JetStream API request
  int max_pending = 4096;               // publishes awaiting acknowledgment at once (the window)
  std::string name = "booking-server";  // the connection's name, as the servers show it
};

// Checks the options as start-up does (URLs, replicas, files exist), naming the flag at fault.
[[nodiscard]] absl::Status ValidateNatsJetStreamOptions(const NatsJetStreamOptions& options);

// An EventPublisher over NATS JetStream (cnats). The connection is the client library's:
// reconnects for ever, follows the cluster's servers as they come and go, TLS and credentials
// from files. The stream is created when missing, the first time a publish finds the
// connection up. Publishes are asynchronous with a bounded window; each message carries its
// Nats-Msg-Id, so one published again within the stream's duplicate window is stored once.
class NatsJetStream final : public EventPublisher {
 public:
  // Starts connecting: returns at once if no server answers (the client keeps trying in the
  // background); an error only for options the library refuses (a bad file, say).
  static absl::StatusOr<std::unique_ptr<NatsJetStream>> Connect(NatsJetStreamOptions options);
  ~NatsJetStream() override;
  NatsJetStream(const NatsJetStream&) = delete;
  NatsJetStream& operator=(const NatsJetStream&) = delete;

  void PublishEach(absl::Span<const BrokerMessage> messages,
                   absl::Span<absl::Status> results) override;
  PublisherState state() const override;
  int window() const override { return options_.max_pending; }

 private:
  explicit NatsJetStream(NatsJetStreamOptions options);
  absl::Status Open();
  absl::Status EnsureStream();
  void Failed(const absl::Status& status);
  static void OnAck(jsCtx* js, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure);
  static void OnConnected(natsConnection* nc, void* closure);  // a late first connect
  static void OnDisconnected(natsConnection* nc, void* closure);
  static void OnReconnected(natsConnection* nc, void* closure);

  const NatsJetStreamOptions options_;
  natsOptions* nats_options_ = nullptr;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
  std::atomic<bool> stream_ready_{false};
  std::atomic<bool> closing_{false};
  bool published_async_ ABSL_GUARDED_BY(publish_mu_) = false;

  // The publish in progress (one at a time: the relay's lane is one thread).
  common::Mutex publish_mu_;  // held for a whole PublishEach
  mutable common::Mutex mu_;  // the acknowledgments, written by the library's thread
  common::CondVar acked_;
  absl::flat_hash_map<std::string, size_t> waiting_ ABSL_GUARDED_BY(mu_);  // id -> index
  absl::Span<absl::Status> results_ ABSL_GUARDED_BY(mu_);
  PublisherState state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace booking::clients
