#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

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
  absl::Status WaitUntilServing(const std::string& target, absl::Duration timeout);
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
