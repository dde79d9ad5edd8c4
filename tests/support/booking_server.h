#pragma once

#include <grpcpp/channel.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/support/server_process.h"

namespace booking::testing {

// booking-server's flags by name. Setting a flag again replaces it, so a test states only what
// differs from the defaults below it (absl would let the last one win anyway; this keeps the
// command line in a failing test's log short and true).
class ServerFlags {
 public:
  ServerFlags() = default;
  // Each "--name=value", or "--name" for a boolean.
  ServerFlags(std::initializer_list<std::string> args);

  ServerFlags& Set(std::string arg);
  ServerFlags& Set(absl::string_view name, absl::string_view value);  // name without dashes
  ServerFlags& Set(const ServerFlags& more);
  // The value given for `name` (without dashes), or "" when not set.
  std::string Get(absl::string_view name) const;

  const std::vector<std::string>& args() const { return args_; }

 private:
  std::vector<std::string> args_;
};

// The real booking-server as a test's child process: gRPC and REST on ports the kernel picks
// (port 0, read back from --ready_file, so tests run at once never race for a port), text logs,
// over one database. Start() returns once it is serving, or records a test failure with its log.
//
// Destroyed while still running, it is sent SIGTERM and the test fails unless it exits 0 within
// the stop timeout: every test checks the graceful stop on its way out.
class BookingServer {
 public:
  static constexpr absl::Duration kStopTimeout = absl::Seconds(20);

  static std::unique_ptr<BookingServer> Start(std::string database_url, ServerFlags flags = {});
  ~BookingServer();
  BookingServer(const BookingServer&) = delete;
  BookingServer& operator=(const BookingServer&) = delete;

  bool ready() const { return ports_.grpc > 0; }
  const std::string& target() const { return target_; }  // 127.0.0.1:<gRPC port>
  int grpc_port() const { return ports_.grpc; }
  int http_port() const { return ports_.http; }
  // http://127.0.0.1:<REST port><path>
  std::string url(absl::string_view path = "") const;
  // One insecure channel to target(), made on first use.
  std::shared_ptr<grpc::Channel> channel();

  const std::string& database_url() const { return database_url_; }
  const ServerFlags& flags() const { return flags_; }

  // SIGTERM; OK only for exit code 0 within `timeout`.
  [[nodiscard]] absl::Status Stop(absl::Duration timeout = kStopTimeout);
  // SIGKILL, and waits for the exit.
  [[nodiscard]] absl::Status Kill();
  bool running() { return process_.running(); }
  std::string log() const { return process_.ReadLog(); }
  ServerProcess& process() { return process_; }

 private:
  BookingServer(std::string database_url, ServerFlags flags, std::vector<std::string> args,
                std::string ready_dir);

  std::string database_url_;
  ServerFlags flags_;
  std::string ready_dir_;
  ServerProcess process_;
  ServerProcess::Ports ports_;
  std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace booking::testing
