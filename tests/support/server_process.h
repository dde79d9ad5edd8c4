#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace grpc {
class ChannelCredentials;
}

namespace booking::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (for servers that cannot bind port 0 and
// report it; booking-server itself does, see BookingServer).
int PickFreePort();

// The real booking-server binary (or, as kOther, any server program such as nats-server),
// started as a child process with its output in a log file.
class ServerProcess {
 public:
  // kBookingServer adds the flags every test wants (text logs, a free HTTP port if none given).
  enum class Kind { kBookingServer, kOther };
  ServerProcess(std::string binary, std::vector<std::string> args,
                Kind kind = Kind::kBookingServer);
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

  // booking-server's --ready_file, read once the file is there (the process writes it whole,
  // once serving): the ports it took. Fails if the process exits or `timeout` passes first.
  struct Ports {
    int grpc = 0;
    int http = 0;
  };
  absl::StatusOr<Ports> WaitForReadyFile(const std::string& path, absl::Duration timeout);

  std::string ReadLog() const;
  pid_t pid() const { return pid_; }

 private:
  std::string binary_;
  std::vector<std::string> args_;
  std::string log_path_;
  Kind kind_;
  pid_t pid_ = -1;
};

}  // namespace booking::testing
