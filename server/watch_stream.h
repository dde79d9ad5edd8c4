#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/watch_hub.h"
#include "server/watch_quota.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::server {

// The TicketStep a watcher sees for a recorded step; `kinds` says what each handler's step means
// (WatchOptions::step_kinds).
void ToProto(const storage::StepRecord& step,
             const absl::flat_hash_map<std::string, tickets::v1::TicketStep::Kind>& kinds,
             tickets::v1::TicketStep& message);

// One WatchTickets stream: writes the steps its subscription queues, one write in flight at a
// time (gRPC's flow control holds back a slow reader; the subscription's bound then ends it).
// Whoever wins `busy_` (a hub wake-up, a finished write, a cancel) does the next thing; no lock
// is held around gRPC calls, so a reaction that runs inline cannot deadlock.
class WatchStream final : public grpc::ServerWriteReactor<tickets::v1::TicketStep>,
                          public std::enable_shared_from_this<WatchStream> {
 public:
  // Subscribes and starts writing; the reactor lives until gRPC calls OnDone.
  static grpc::ServerWriteReactor<tickets::v1::TicketStep>* Start(
      WatchHub& hub, std::vector<std::string> ticket_ids,
      std::optional<storage::LogPosition> resume, std::string correlation_id,
      std::optional<WatchQuota::Slot> slot = std::nullopt);

  WatchStream(WatchHub& hub, std::string correlation_id)
      : hub_(hub), correlation_id_(std::move(correlation_id)) {}

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void Wake();
  void Pump();  // only by the holder of busy_
  void End(const absl::Status& status);

  WatchHub& hub_;
  const std::string correlation_id_;
  std::shared_ptr<WatchStream> self_;  // gRPC's reference, dropped in OnDone
  std::shared_ptr<WatchSubscription> subscription_;
  std::optional<WatchQuota::Slot> slot_;  // the client's place, until the stream is gone
  std::atomic<bool> busy_{true};          // held until Start has subscribed
  std::atomic<bool> cancelled_{false};
  // Held by the owner of busy_ only:
  std::deque<storage::StepRecord> taken_;
  tickets::v1::TicketStep message_;
  long long sent_ = 0;
  bool headers_sent_ = false;
};

}  // namespace booking::server
