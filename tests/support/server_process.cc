#include "tests/support/server_process.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace booking::testing {

int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

ServerProcess::ServerProcess(std::string binary, std::vector<std::string> args, Kind kind)
    : binary_(std::move(binary)), args_(std::move(args)), kind_(kind) {
  char path[] = "/tmp/booking-server-test-XXXXXX";
  const int fd = mkstemp(path);
  if (fd >= 0) close(fd);
  log_path_ = path;
}

absl::StatusOr<ServerProcess::Ports> ServerProcess::WaitForReadyFile(const std::string& path,
                                                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::ifstream in(path);
    if (in) {
      Ports ports;
      std::string line;
      while (std::getline(in, line)) {
        if (absl::StartsWith(line, "grpc_port=")) ports.grpc = std::atoi(line.c_str() + 10);
        if (absl::StartsWith(line, "http_port=")) ports.http = std::atoi(line.c_str() + 10);
      }
      if (ports.grpc <= 0) return absl::InternalError(absl::StrCat(path, ": no grpc_port"));
      return ports;
    }
    if (!running()) return absl::UnavailableError("the server exited before it was ready");
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no ", path, " within ", absl::FormatDuration(timeout)));
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && running()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  unlink(log_path_.c_str());
}

absl::Status ServerProcess::Start() {
  // Tests run in parallel: unless a test picks the HTTP port, let the server take a free one.
  if (kind_ == Kind::kBookingServer) {
    bool http_addr_given = false;
    for (const std::string& arg : args_) http_addr_given |= arg.rfind("--http_addr", 0) == 0;
    if (!http_addr_given) args_.push_back("--http_addr=127.0.0.1:0");
    // Tests read the log as key=value text unless they ask for another format (last flag wins).
    args_.insert(args_.begin(), "--log_format=text");
  }
  std::vector<char*> argv;
  argv.push_back(binary_.data());
  for (std::string& arg : args_) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) return absl::InternalError("fork failed");
  if (pid_ == 0) {
    const int log = open(log_path_.c_str(), O_WRONLY | O_TRUNC);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    execv(binary_.c_str(), argv.data());
    _exit(127);
  }
  return absl::OkStatus();
}

bool ServerProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t done = waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

absl::Status ServerProcess::WaitUntilServing(const std::string& target, absl::Duration timeout,
                                             std::shared_ptr<grpc::ChannelCredentials> credentials,
                                             const std::string& target_name) {
  if (credentials == nullptr) credentials = grpc::InsecureChannelCredentials();
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    // A fresh channel (with its own subchannels) per attempt: a shared one would sit out gRPC's
    // reconnect backoff for seconds after the first refused connection.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    if (!target_name.empty()) args.SetSslTargetNameOverride(target_name);
    auto health =
        grpc::health::v1::Health::NewStub(grpc::CreateCustomChannel(target, credentials, args));
    if (!running()) {
      return absl::FailedPreconditionError(absl::StrCat("server exited; log:\n", ReadLog()));
    }
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    if (health->Check(&context, request, &response).ok() &&
        response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat("server not serving; log:\n", ReadLog()));
}

absl::StatusOr<int> ServerProcess::Stop(int signal, absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  kill(pid_, signal);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + WTERMSIG(status);
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("server did not exit in time");
}

std::string ServerProcess::ReadLog() const {
  std::ifstream in(log_path_);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace booking::testing
