#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/bad_requests.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::testing {

// Callers sending one confirmed ticket per call, each with its own id and idempotency key, to
// one or more servers in turn, until stopped (or a bound on calls or time). Keeps which tickets
// were answered OK and how many calls ended with each status code.
class Load {
 public:
  Load(std::vector<std::string> targets, int threads, std::string id_prefix)
      : targets_(std::move(targets)), prefix_(std::move(id_prefix)) {
    for (int t = 0; t < threads; ++t) threads_.emplace_back([this, t] { Run(t); });
  }
  ~Load() { Stop(); }

  void Stop() {
    stop_ = true;
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

  std::set<std::string> acknowledged() const {
    std::lock_guard lock(mu_);
    return acknowledged_;
  }
  std::map<grpc::StatusCode, int> codes() const {
    std::lock_guard lock(mu_);
    return codes_;
  }
  absl::Duration slowest_refusal() const {
    std::lock_guard lock(mu_);
    return slowest_refusal_;
  }
  int calls() const { return calls_.load(); }

 private:
  void Run(int thread) {
    std::vector<std::unique_ptr<tickets::v1::BookingService::Stub>> stubs;
    for (const std::string& target : targets_) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
      stubs.push_back(tickets::v1::BookingService::NewStub(
          grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args)));
    }
    const absl::Time deadline = absl::Now() + absl::Minutes(3);
    for (int i = 0; !stop_ && i < 100000 && absl::Now() < deadline; ++i) {
      const int number = thread * 100000 + i;
      tickets::v1::UpdateTicketsStatusRequest request = ValidRequest(1, prefix_, number);
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      context.AddMetadata("idempotency-key", absl::StrCat(prefix_, "-", number));
      tickets::v1::UpdateTicketsStatusResponse response;
      const absl::Time start = absl::Now();
      grpc::Status status =
          stubs[i % stubs.size()]->UpdateTicketsStatus(&context, request, &response);
      const absl::Duration took = absl::Now() - start;
      ++calls_;
      std::lock_guard lock(mu_);
      ++codes_[status.error_code()];
      if (status.ok()) acknowledged_.insert(request.tickets(0).ticket_id());
      if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        slowest_refusal_ = std::max(slowest_refusal_, took);
      }
      if (!status.ok()) absl::SleepFor(absl::Milliseconds(5));  // as a polite client would
    }
  }

  const std::vector<std::string> targets_;
  const std::string prefix_;
  std::atomic<bool> stop_{false};
  std::atomic<int> calls_{0};
  mutable std::mutex mu_;
  std::set<std::string> acknowledged_;
  std::map<grpc::StatusCode, int> codes_;
  absl::Duration slowest_refusal_;
  std::vector<std::thread> threads_;
};

}  // namespace booking::testing
