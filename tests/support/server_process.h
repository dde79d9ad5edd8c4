#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class ChannelCredentials;
}

namespace booking::testing {

// A TCP port on 127.0.0.1 that was free a moment ago.
int PickFreePort();

// The real booking-server binary, started as a child process with its output in a log file.
class ServerProcess {
 public:
  ServerProcess(std::string binary, std::vector<std::string> args);
  ~ServerProcess();  // SIGKILL if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  absl::Status Start();
  // Polls the gRPC health service at `target` until SERVING, the process exits, or the timeout.
  // `credentials`: how to reach a TLS port (insecure when null); `target_name` overrides the name
  // checked against the server certificate.
  absl::Status WaitUntilServing(const std::string& target, absl::Duration timeout,
                                std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr,
                                const std::string& target_name = "");
  // Sends `signal` and waits up to `timeout` for the exit; returns the exit code (128+signal when
  // killed by a signal), or DEADLINE_EXCEEDED.
  absl::StatusOr<int> Stop(int signal, absl::Duration timeout);
  bool running();

  std::string ReadLog() const;
  pid_t pid() const { return pid_; }

 private:
  std::string binary_;
  std::vector<std::string> args_;
  std::string log_path_;
  pid_t pid_ = -1;
};

}  // namespace booking::testing
