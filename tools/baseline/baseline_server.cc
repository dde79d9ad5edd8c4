// baseline-server: the same BookingService (validation, events, callback API), but its event
// log answers OK at once and nothing is stored. Benchmarks state their results as a ratio to
// this ceiling of gRPC itself, measured on the same machine in the same run.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/booking_service.h"
#include "server/query_executor.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, grpc_addr, "127.0.0.1:50052", "Address to listen on.");

namespace booking::baseline {
namespace {

class DiscardingEventLog final : public pipeline::EventLog {
 public:
  using pipeline::EventLog::Append;
  void Append(pipeline::CallIdentity, std::vector<domain::Event> events,
              AppendCallback done) override {
    std::move(done)(pipeline::AppendResult{static_cast<int>(events.size())});
  }
};

class EmptyRepository final : public storage::TicketRepository {
 public:
  absl::Status Upsert(absl::Span<const domain::Ticket>) override { return absl::OkStatus(); }
  absl::StatusOr<domain::Ticket> Get(std::string_view) override {
    return absl::NotFoundError("baseline stores nothing");
  }
  absl::StatusOr<std::vector<domain::Ticket>> ListActive(std::string_view, int) override {
    return std::vector<domain::Ticket>{};
  }
  absl::StatusOr<int64_t> MaxEventSequence() override { return 0; }
};

int Run() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  DiscardingEventLog log;
  EmptyRepository repository;
  server::QueryExecutor reads(1, 1024);
  server::BookingService service(log, repository, reads, {});
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_grpc_addr), grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "baseline-server: cannot listen on %s\n",
                 absl::GetFlag(FLAGS_grpc_addr).c_str());
    return 1;
  }
  std::fprintf(stderr, "baseline-server ready grpc_port=%d\n", port);
  int signal = 0;
  sigwait(&signals, &signal);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  reads.Stop();
  return 0;
}

}  // namespace
}  // namespace booking::baseline

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // gRPC locks absl::Mutex on every call; Debian builds Abseil with its deadlock detector on,
  // which records every lock order in a global graph (measured: 2% of the server's CPU).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  spdlog::set_level(spdlog::level::warn);  // per-call info lines would measure the terminal
  return booking::baseline::Run();
}
