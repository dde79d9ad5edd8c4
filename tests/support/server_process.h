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

// A TCP port on 127.0.0.1 that was free a moment ago.
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

#ifdef BOOKING_SERVER_PATH
// The real booking-server with gRPC and REST on ports the kernel picks (port 0; no race between
// tests run at once), over `database_url` with `extra` flags, started and SERVING; `ports` gets
// the ports it took, from its --ready_file.
inline std::unique_ptr<ServerProcess> StartServerOnAnyPorts(const std::string& database_url,
                                                            std::vector<std::string> extra,
                                                            ServerProcess::Ports* ports) {
  char dir[] = "/tmp/booking-ready-XXXXXX";
  EXPECT_NE(mkdtemp(dir), nullptr);
  const std::string ready = std::string(dir) + "/ports";
  std::vector<std::string> args = {"--grpc_addr=127.0.0.1:0", "--http_addr=127.0.0.1:0",
                                   "--database_url=" + database_url, "--ready_file=" + ready,
                                   "--log_format=text"};
  for (auto& arg : extra) args.push_back(std::move(arg));
  auto server = std::make_unique<ServerProcess>(BOOKING_SERVER_PATH, args);
  EXPECT_TRUE(server->Start().ok());
  absl::StatusOr<ServerProcess::Ports> taken = server->WaitForReadyFile(ready, absl::Seconds(30));
  EXPECT_TRUE(taken.ok()) << taken.status() << server->ReadLog();
  if (taken.ok()) *ports = *taken;
  return server;
}

// The real booking-server on gRPC 127.0.0.1:`grpc_port` and, unless `http_port` is 0, REST on
// 127.0.0.1:`http_port` (text logs), over `database_url` with `extra` flags, started and
// SERVING (the test fails otherwise).
inline std::unique_ptr<ServerProcess> StartServer(const std::string& database_url, int grpc_port,
                                                  int http_port, std::vector<std::string> extra) {
  const std::string target = "127.0.0.1:" + std::to_string(grpc_port);
  std::vector<std::string> args = {
      "--grpc_addr=" + target, "--database_url=" + database_url,
      http_port == 0 ? "--http_addr=" : "--http_addr=127.0.0.1:" + std::to_string(http_port),
      "--log_format=text"};
  for (auto& arg : extra) args.push_back(std::move(arg));
  auto server = std::make_unique<ServerProcess>(BOOKING_SERVER_PATH, args);
  EXPECT_TRUE(server->Start().ok());
  const absl::Status serving = server->WaitUntilServing(target, absl::Seconds(30));
  EXPECT_TRUE(serving.ok()) << serving << server->ReadLog();
  return server;
}

// The same without an HTTP port.
inline std::unique_ptr<ServerProcess> StartGrpcServer(const std::string& database_url, int port,
                                                      std::vector<std::string> extra) {
  return StartServer(database_url, port, 0, std::move(extra));
}
#endif

}  // namespace booking::testing
