#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/server_process.h"

namespace booking::testing {

// A JetStream cluster of real nats-server processes on loopback (Debian's nats-server), each
// with its own store folder and ports, for tests that kill and restart nodes. Every node is
// SIGKILLed and its folder removed on destruction.
class NatsCluster {
 public:
  // `extra_args`: more nats-server flags for every node (TLS, say).
  explicit NatsCluster(int nodes = 3, std::vector<std::string> extra_args = {});
  ~NatsCluster();
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  // Starts every node, then waits until JetStream answers (a meta leader was elected).
  absl::Status Start();
  absl::Status StartNode(int i);  // again after KillNode, on the same store
  void KillNode(int i);           // SIGKILL
  absl::Status WaitUntilReady(absl::Duration timeout);

  int size() const { return static_cast<int>(ports_.size()); }
  std::string url(int i) const;  // nats://127.0.0.1:port
  std::string urls() const;      // all of them, comma-separated
  std::string ReadLogs() const;

 private:
  std::vector<int> ports_, cluster_ports_;
  std::vector<std::string> extra_args_;
  std::string dir_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

// One message of a stream as a subscriber sees it.
struct StreamMessage {
  uint64_t stream_sequence = 0;
  std::string subject;
  std::string msg_id;          // Nats-Msg-Id
  std::string ticket_id;       // Ticket-Id
  int64_t event_sequence = 0;  // Event-Sequence
  std::string event_type;      // Event-Type
  std::string content_type;
  std::string correlation_id;
  std::string data;
};

// Every message of `stream`, in stream order, read one by one by sequence from `urls`.
absl::StatusOr<std::vector<StreamMessage>> ReadStream(const std::string& urls,
                                                      const std::string& stream);

// The stream's replicas and duplicate window as configured.
struct StreamConfig {
  int replicas = 0;
  absl::Duration duplicate_window;
  std::vector<std::string> subjects;
};
absl::StatusOr<StreamConfig> ReadStreamConfig(const std::string& urls, const std::string& stream);

}  // namespace booking::testing
