// booking-server: reads the flags into a checked Config, runs the Application until SIGINT or
// SIGTERM, then stops it within --shutdown_timeout. Exit 2: bad flags; 1: could not start.
#include <openssl/crypto.h>

#include <cstring>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "app/application.h"
#include "app/config.h"
#include "app/process.h"
#include "common/logging.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  using namespace booking;
  // Before anything uses OpenSSL: no cleanup of its globals at exit. cnats 3.4 frees OpenSSL's
  // compression-method stack in its own cleanup and leaves the pointer (nats.c issue 904), so
  // OpenSSL's exit handler freed it again and every stop after a TLS connection to NATS ended
  // in SIGSEGV (exit 139). The OS takes that memory back at exit anyway.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  absl::SetProgramUsageMessage(
      "Ticket booking service: accepts ticket status changes over gRPC and stores them in "
      "PostgreSQL.\nUsage: booking-server --database_url=postgresql://... [flags]");
  absl::ParseCommandLine(argc, argv);
  // gRPC locks absl::Mutex on every call; Debian builds Abseil with its deadlock detector on,
  // which records every lock order in a global graph (measured: 2% of the server's CPU).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const sigset_t stop_signals = app::BlockStopSignals();

  if (absl::Status status =
          common::InitLogging(absl::GetFlag(FLAGS_log_level), absl::GetFlag(FLAGS_log_format));
      !status.ok()) {
    std::fprintf(stderr, "booking-server: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  absl::StatusOr<app::Config> config = app::FromFlags();
  if (!config.ok()) {
    spdlog::critical("{}", common::LogValue(config.status().message()));
    return 2;
  }
  app::RaiseOpenFileLimit();

  const absl::Duration grace = config->shutdown_timeout;
  app::Application application(*std::move(config));
  if (absl::Status status = application.Start(); !status.ok()) {
    spdlog::critical("cannot start error={}", common::LogValue(status.message()));
    return absl::IsInvalidArgument(status) ? 2 : 1;
  }
  const int signal =
      app::WaitForStopSignal(stop_signals, [&application] { application.ReloadTokens(); });
  spdlog::info("shutting down signal={} timeout={}", strsignal(signal),
               absl::FormatDuration(grace));
  application.Stop(grace);
  spdlog::info("stopped");
  return 0;
}
