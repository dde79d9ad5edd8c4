// loadgen: drives booking-server with UpdateTicketsStatus calls over gRPC or HTTP/JSON, closed
// loop (a fixed number of calls in flight) or at a fixed rate, for a duration, and prints
// calls/s, errors by status and latency quantiles, plus one machine-readable RESULT line.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tickets/v1/booking.grpc.pb.h"
#include "tools/loadgen/latency_histogram.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "host:port of the gRPC or HTTP port.");
ABSL_FLAG(std::string, protocol, "grpc", "grpc or http.");
ABSL_FLAG(int, concurrency, 64, "Calls in flight (closed loop), or the most in flight at --rate.");
ABSL_FLAG(double, rate, 0, "Calls per second to start (0: closed loop at --concurrency).");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "How long to measure.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "Load before measuring, not counted.");
ABSL_FLAG(int, channels, 4, "gRPC channels (connections) the calls are spread over.");
ABSL_FLAG(int, tickets_per_call, 1, "Tickets in each UpdateTicketsStatus call.");
ABSL_FLAG(std::string, http_path, "/tickets-status", "HTTP path for --protocol=http.");
ABSL_FLAG(int, threads, 2, "Client threads for --protocol=http.");

namespace booking::loadgen {
namespace {

// CPU this process used (user + system), so a benchmark can charge the client's share.
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

using Clock = std::chrono::steady_clock;

// Counts and latencies, only while measuring.
struct Stats {
  LatencyHistogram latency;
  std::mutex mu;
  std::map<std::string, int64_t> errors;  // guarded by mu
  std::atomic<int64_t> ok{0};
  std::atomic<bool> measuring{false};
  std::atomic<bool> stopping{false};

  void Record(Clock::time_point started, const std::string& error) {
    if (!measuring.load(std::memory_order_relaxed)) return;
    latency.Record(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count());
    if (error.empty()) {
      ok.fetch_add(1, std::memory_order_relaxed);
    } else {
      std::lock_guard lock(mu);
      ++errors[error];
    }
  }
};

// Unique ticket ids and idempotency keys for this run.
class Ids {
 public:
  Ids() : run_(absl::StrFormat("%08x", std::random_device()())) {}
  int64_t Next() { return next_.fetch_add(1, std::memory_order_relaxed); }
  std::string TicketId(int64_t n, int i) const {
    return absl::StrFormat("%s-%04x-4%03x-8%03x-%012x", run_, (n >> 48) & 0xffff, (n >> 36) & 0xfff,
                           i & 0xfff, n & 0xffffffffffff);
  }
  std::string Key(int64_t n) const { return absl::StrCat("loadgen-", run_, "-", n); }

 private:
  const std::string run_;
  std::atomic<int64_t> next_{0};
};

tickets::v1::UpdateTicketsStatusRequest MakeRequest(const Ids& ids, int64_t n, int tickets) {
  tickets::v1::UpdateTicketsStatusRequest request;
  for (int i = 0; i < tickets; ++i) {
    auto* ticket = request.add_tickets();
    ticket->set_ticket_id(ids.TicketId(n, i));
    ticket->set_status("confirmed");
    ticket->set_customer_email("load@example.com");
    ticket->mutable_price()->set_amount("49.90");
    ticket->mutable_price()->set_currency("EUR");
  }
  return request;
}

std::string CompatBody(const Ids& ids, int64_t n, int tickets) {
  std::string body = R"({"tickets":[)";
  for (int i = 0; i < tickets; ++i) {
    absl::StrAppend(&body, i > 0 ? "," : "", R"({"ticket_id":")", ids.TicketId(n, i),
                    R"(","status":"confirmed","customer_email":"load@example.com",)",
                    R"("price":{"amount":"49.90","currency":"EUR"}})");
  }
  return body + "]}";
}

// Hands out start times: at once (closed loop), or on the --rate schedule. Latency is measured
// from the scheduled time, so a slow server cannot hide its queueing (coordinated omission).
class Pacer {
 public:
  explicit Pacer(double rate) : rate_(rate), start_(Clock::now()) {}
  // Waits for this call's slot and returns its scheduled time.
  Clock::time_point Next() {
    if (rate_ <= 0) return Clock::now();
    const int64_t n = issued_.fetch_add(1);
    const auto due = start_ + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * n / rate_));
    std::this_thread::sleep_until(due);
    return due;
  }

 private:
  const double rate_;
  const Clock::time_point start_;
  std::atomic<int64_t> issued_{0};
};

// gRPC: each slot keeps one call in flight with the callback API; on completion it records and
// starts the next (through a pacing thread when --rate is set).
void RunGrpc(Stats& stats, Ids& ids, Pacer& pacer, int concurrency, int tickets) {
  std::vector<std::unique_ptr<tickets::v1::BookingService::Stub>> stubs;
  for (int c = 0; c < std::max(1, absl::GetFlag(FLAGS_channels)); ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per channel
    args.SetInt("loadgen.channel", c);
    stubs.push_back(tickets::v1::BookingService::NewStub(grpc::CreateCustomChannel(
        absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(), args)));
  }
  struct Slot {
    std::unique_ptr<grpc::ClientContext> context;
    tickets::v1::UpdateTicketsStatusRequest request;
    tickets::v1::UpdateTicketsStatusResponse response;
    Clock::time_point started;
    tickets::v1::BookingService::Stub* stub;
  };
  std::vector<Slot> slots(concurrency);
  std::mutex free_mu;
  std::vector<Slot*> free_slots;
  std::atomic<int> in_flight{0};
  std::function<void(Slot*)> start;
  start = [&](Slot* slot) {
    const int64_t n = ids.Next();
    slot->context = std::make_unique<grpc::ClientContext>();
    slot->context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    slot->context->AddMetadata("idempotency-key", ids.Key(n));
    slot->request = MakeRequest(ids, n, tickets);
    slot->started = pacer.Next();
    ++in_flight;
    slot->stub->async()->UpdateTicketsStatus(
        slot->context.get(), &slot->request, &slot->response, [&, slot](grpc::Status status) {
          stats.Record(slot->started,
                       status.ok() ? "" : absl::StrCat("grpc_", status.error_code()));
          --in_flight;
          if (stats.stopping.load()) return;
          if (absl::GetFlag(FLAGS_rate) > 0) {
            std::lock_guard lock(free_mu);
            free_slots.push_back(slot);
          } else {
            start(slot);
          }
        });
  };
  for (int i = 0; i < concurrency; ++i) slots[i].stub = stubs[i % stubs.size()].get();
  std::thread pacing;
  if (absl::GetFlag(FLAGS_rate) > 0) {
    for (Slot& slot : slots) free_slots.push_back(&slot);
    pacing = std::thread([&] {
      while (!stats.stopping.load()) {
        Slot* slot = nullptr;
        {
          std::lock_guard lock(free_mu);
          if (!free_slots.empty()) {
            slot = free_slots.back();
            free_slots.pop_back();
          }
        }
        if (slot == nullptr) {
          std::this_thread::sleep_for(std::chrono::microseconds(100));  // all busy: backlog
          continue;
        }
        start(slot);
      }
    });
  } else {
    for (Slot& slot : slots) start(&slot);
  }
  const absl::Time until = absl::Now() + absl::GetFlag(FLAGS_warmup);
  while (absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  stats.measuring = true;
  absl::SleepFor(absl::GetFlag(FLAGS_duration));
  stats.measuring = false;
  stats.stopping = true;
  if (pacing.joinable()) pacing.join();
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (in_flight.load() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// HTTP/1.1 keep-alive connections, each sending the compatibility body one call at a time.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(asio::io_context& io, Stats& stats, Ids& ids, Pacer& pacer, int tickets)
      : stream_(io), stats_(stats), ids_(ids), pacer_(pacer), tickets_(tickets) {}

  void Start(const asio::ip::tcp::resolver::results_type& endpoints) {
    stream_.expires_after(std::chrono::seconds(10));
    stream_.async_connect(endpoints, [self = shared_from_this()](beast::error_code ec, auto) {
      if (ec) {
        self->stats_.Record(Clock::now(), "connect_failed");
        return;
      }
      self->Send();
    });
  }

 private:
  void Send() {
    if (stats_.stopping.load()) return;
    const int64_t n = ids_.Next();
    request_ = {http::verb::post, absl::GetFlag(FLAGS_http_path), 11};
    // The name the server is reached by, as any HTTP client sends it (the server refuses a
    // Host that is not one of its names).
    request_.set(http::field::host, absl::GetFlag(FLAGS_target));
    request_.set(http::field::content_type, "application/json");
    request_.set("Idempotency-Key", ids_.Key(n));
    request_.body() = CompatBody(ids_, n, tickets_);
    request_.prepare_payload();
    started_ = pacer_.Next();
    stream_.expires_after(std::chrono::seconds(10));
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code ec, auto) {
      if (ec) return self->Fail("write_failed");
      self->response_ = {};
      http::async_read(
          self->stream_, self->buffer_, self->response_, [self](beast::error_code ec, auto) {
            if (ec) return self->Fail("read_failed");
            const int status = self->response_.result_int();
            self->stats_.Record(self->started_, status == 200 ? "" : absl::StrCat("http_", status));
            self->Send();
          });
    });
  }
  void Fail(const char* what) { stats_.Record(started_, what); }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  Stats& stats_;
  Ids& ids_;
  Pacer& pacer_;
  const int tickets_;
  Clock::time_point started_;
};

void RunHttp(Stats& stats, Ids& ids, Pacer& pacer, int concurrency, int tickets) {
  asio::io_context io;
  const std::string target = absl::GetFlag(FLAGS_target);
  const size_t colon = target.rfind(':');
  asio::ip::tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(target.substr(0, colon), target.substr(colon + 1));
  for (int i = 0; i < concurrency; ++i) {
    std::make_shared<HttpConnection>(io, stats, ids, pacer, tickets)->Start(endpoints);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, absl::GetFlag(FLAGS_threads)); ++t) {
    threads.emplace_back([&io] { io.run(); });
  }
  absl::SleepFor(absl::GetFlag(FLAGS_warmup));
  stats.measuring = true;
  absl::SleepFor(absl::GetFlag(FLAGS_duration));
  stats.measuring = false;
  stats.stopping = true;
  // Connections stop after their call in flight; run() returns when none is left.
  for (auto& thread : threads) thread.join();
}

int Main() {
  const std::string protocol = absl::GetFlag(FLAGS_protocol);
  if (protocol != "grpc" && protocol != "http") {
    std::fprintf(stderr, "loadgen: --protocol must be grpc or http\n");
    return 2;
  }
  Stats stats;
  Ids ids;
  Pacer pacer(absl::GetFlag(FLAGS_rate));
  const int concurrency = std::max(1, absl::GetFlag(FLAGS_concurrency));
  const int tickets = std::max(1, absl::GetFlag(FLAGS_tickets_per_call));
  if (protocol == "grpc") {
    RunGrpc(stats, ids, pacer, concurrency, tickets);
  } else {
    RunHttp(stats, ids, pacer, concurrency, tickets);
  }
  const double seconds = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_duration));
  const int64_t calls = stats.latency.count();
  std::string errors_json;
  int64_t errors = 0;
  for (const auto& [code, count] : stats.errors) {
    absl::StrAppend(&errors_json, errors_json.empty() ? "" : ",", "\"", code, "\":", count);
    errors += count;
  }
  const double per_second = static_cast<double>(calls) / seconds;
  std::printf("%s %s concurrency=%d rate=%g: %lld calls in %.1fs = %.0f calls/s, %lld errors\n",
              protocol.c_str(), absl::GetFlag(FLAGS_target).c_str(), concurrency,
              absl::GetFlag(FLAGS_rate), static_cast<long long>(calls), seconds, per_second,
              static_cast<long long>(errors));
  std::printf("latency p50=%.2fms p90=%.2fms p99=%.2fms p99.9=%.2fms\n",
              stats.latency.Quantile(0.5) / 1e3, stats.latency.Quantile(0.9) / 1e3,
              stats.latency.Quantile(0.99) / 1e3, stats.latency.Quantile(0.999) / 1e3);
  for (const auto& [code, count] : stats.errors) {
    std::printf("  %s: %lld\n", code.c_str(), static_cast<long long>(count));
  }
  std::printf(
      "RESULT {\"protocol\":\"%s\",\"calls\":%lld,\"seconds\":%.1f,\"calls_per_sec\":%.0f,"
      "\"ok\":%lld,\"errors\":{%s},\"p50_us\":%lld,\"p90_us\":%lld,\"p99_us\":%lld,"
      "\"p999_us\":%lld,\"cpu_seconds\":%.2f}\n",
      protocol.c_str(), static_cast<long long>(calls), seconds, per_second,
      static_cast<long long>(stats.ok.load()), errors_json.c_str(),
      static_cast<long long>(stats.latency.Quantile(0.5)),
      static_cast<long long>(stats.latency.Quantile(0.9)),
      static_cast<long long>(stats.latency.Quantile(0.99)),
      static_cast<long long>(stats.latency.Quantile(0.999)), CpuSeconds());
  return 0;
}

}  // namespace
}  // namespace booking::loadgen

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // gRPC locks absl::Mutex on every call; Debian builds Abseil with its deadlock detector on,
  // which records every lock order in a global graph (measured: 2% of the server's CPU).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return booking::loadgen::Main();
}
