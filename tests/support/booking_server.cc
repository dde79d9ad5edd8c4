#include "tests/support/booking_server.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace booking::testing {
namespace {

// "--name=value" → "name"; "--name" → "name".
absl::string_view NameOf(absl::string_view arg) {
  if (absl::StartsWith(arg, "--")) arg.remove_prefix(2);
  return arg.substr(0, arg.find('='));
}

}  // namespace

ServerFlags::ServerFlags(std::initializer_list<std::string> args) {
  for (const std::string& arg : args) Set(arg);
}

ServerFlags& ServerFlags::Set(std::string arg) {
  for (std::string& existing : args_) {
    if (NameOf(existing) == NameOf(arg)) {
      existing = std::move(arg);
      return *this;
    }
  }
  args_.push_back(std::move(arg));
  return *this;
}

ServerFlags& ServerFlags::Set(absl::string_view name, absl::string_view value) {
  return Set(absl::StrCat("--", name, "=", value));
}

ServerFlags& ServerFlags::Set(const ServerFlags& more) {
  for (const std::string& arg : more.args_) Set(arg);
  return *this;
}

std::string ServerFlags::Get(absl::string_view name) const {
  for (const std::string& arg : args_) {
    if (NameOf(arg) != name) continue;
    const size_t equals = arg.find('=');
    return equals == std::string::npos ? "true" : arg.substr(equals + 1);
  }
  return "";
}

std::unique_ptr<BookingServer> BookingServer::Start(std::string database_url, ServerFlags flags) {
  char dir[] = "/tmp/booking-ready-XXXXXX";
  if (mkdtemp(dir) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  const std::string ready = std::string(dir) + "/ports";
  // A --flagfile first (absl applies it where it stands), then the fixture's defaults, then the
  // test's own flags (an --http_addr= that turns REST off, a --log_format=json), each replacing
  // what came before.
  ServerFlags args;
  if (std::string file = flags.Get("flagfile"); !file.empty()) args.Set("flagfile", file);
  args.Set(ServerFlags{"--grpc_addr=127.0.0.1:0", "--http_addr=127.0.0.1:0", "--log_format=text",
                       "--database_url=" + database_url});
  args.Set(flags);
  args.Set("--ready_file=" + ready);
  std::unique_ptr<BookingServer> server(
      new BookingServer(std::move(database_url), std::move(flags), args.args(), dir));
  if (absl::Status started = server->process_.Start(); !started.ok()) {
    ADD_FAILURE() << started;
    return server;
  }
  absl::StatusOr<ServerProcess::Ports> ports =
      server->process_.WaitForReadyFile(ready, absl::Seconds(60));
  if (!ports.ok()) {
    ADD_FAILURE() << "booking-server did not get ready: " << ports.status() << "\n"
                  << server->log();
    return server;
  }
  server->ports_ = *ports;
  server->target_ = absl::StrCat("127.0.0.1:", ports->grpc);
  return server;
}

BookingServer::BookingServer(std::string database_url, ServerFlags flags,
                             std::vector<std::string> args, std::string ready_dir)
    : database_url_(std::move(database_url)),
      flags_(std::move(flags)),
      ready_dir_(std::move(ready_dir)),
      process_(BOOKING_SERVER_PATH, std::move(args)) {}

BookingServer::~BookingServer() {
  if (process_.running()) {
    const absl::Status stopped = Stop();
    EXPECT_TRUE(stopped.ok()) << "the graceful stop at the end of the test: " << stopped << "\n"
                              << log();
  }
  std::error_code ignored;
  std::filesystem::remove_all(ready_dir_, ignored);
}

std::string BookingServer::url(absl::string_view path) const {
  return absl::StrCat("http://127.0.0.1:", ports_.http, path);
}

std::shared_ptr<grpc::Channel> BookingServer::channel() {
  if (channel_ == nullptr) {
    channel_ = grpc::CreateChannel(target_, grpc::InsecureChannelCredentials());
  }
  return channel_;
}

absl::Status BookingServer::Stop(absl::Duration timeout) {
  channel_.reset();  // an idle client connection would hold the graceful stop for its grace
  absl::StatusOr<int> code = process_.Stop(SIGTERM, timeout);
  if (!code.ok()) {
    // Leave nothing behind for the next test.
    (void)process_.Stop(SIGKILL, absl::Seconds(10));
    return code.status();
  }
  if (*code != 0) return absl::InternalError(absl::StrCat("exit code ", *code, " after SIGTERM"));
  return absl::OkStatus();
}

absl::Status BookingServer::Kill() {
  absl::StatusOr<int> code = process_.Stop(SIGKILL, absl::Seconds(10));
  return code.ok() ? absl::OkStatus() : code.status();
}

}  // namespace booking::testing
