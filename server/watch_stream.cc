#include "server/watch_stream.h"

#include "absl/container/flat_hash_map.h"
#include "api/error_details.h"
#include "common/log_value.h"
#include "spdlog/spdlog.h"
#include "tickets/v1/events.pb.h"

namespace booking::server {

void ToProto(const storage::StepRecord& step,
             const absl::flat_hash_map<std::string, tickets::v1::TicketStep::Kind>& kinds,
             tickets::v1::TicketStep& message) {
  message.Clear();
  message.set_ticket_id(step.ticket_id);
  message.set_handler(step.handler);
  message.set_correlation_id(step.correlation_id);
  if (step.step == "accepted") {
    message.set_kind(tickets::v1::TicketStep::ACCEPTED);
    const bool canceled =
        step.detail == tickets::v1::TicketBookingCanceled::descriptor()->full_name();
    message.set_detail(canceled ? "canceled" : "confirmed");
  } else if (step.step == "dead_lettered") {
    message.set_kind(tickets::v1::TicketStep::DEAD_LETTERED);
    message.set_detail(step.detail);
  } else if (step.step == "retrying") {
    message.set_kind(tickets::v1::TicketStep::RETRYING);
    message.set_detail(step.detail);
    if (step.next_attempt_at != absl::InfinitePast()) {
      const int64_t next = absl::ToUnixMicros(step.next_attempt_at);
      message.mutable_next_attempt_at()->set_seconds(next / 1'000'000);
      message.mutable_next_attempt_at()->set_nanos(static_cast<int32_t>(next % 1'000'000) * 1000);
    }
  } else {
    // A handler with no kind of its own shows as HANDLED.
    const auto kind = kinds.find(step.handler);
    message.set_kind(kind == kinds.end() ? tickets::v1::TicketStep::HANDLED : kind->second);
    message.set_detail(step.detail);
  }
  const int64_t micros = absl::ToUnixMicros(step.at);
  message.mutable_at()->set_seconds(micros / 1'000'000);
  message.mutable_at()->set_nanos(static_cast<int32_t>(micros % 1'000'000) * 1000);
  message.set_resume_token(ResumeToken(step.position));
}

grpc::ServerWriteReactor<tickets::v1::TicketStep>* WatchStream::Start(
    WatchHub& hub, std::vector<std::string> ticket_ids, std::optional<storage::LogPosition> resume,
    std::string correlation_id, std::optional<WatchQuota::Slot> slot) {
  auto stream = std::make_shared<WatchStream>(hub, std::move(correlation_id));
  stream->self_ = stream;
  stream->slot_ = std::move(slot);
  spdlog::info("watch started correlation_id={} tickets={} resumed={}", stream->correlation_id_,
               ticket_ids.size(), resume.has_value());
  std::weak_ptr<WatchStream> weak = stream;
  stream->subscription_ = hub.Subscribe(std::move(ticket_ids), resume, [weak] {
    if (std::shared_ptr<WatchStream> alive = weak.lock()) alive->Wake();
  });
  stream->Pump();  // holds busy_ from construction; sends the headers once the stream is ready
  return stream.get();
}

void WatchStream::Wake() {
  if (!busy_.exchange(true)) Pump();
}

void WatchStream::OnCancel() {
  cancelled_.store(true);
  Wake();
}

void WatchStream::OnWriteDone(bool ok) {
  if (!ok) {  // the client went away: nothing more can be written
    End(absl::CancelledError("the client went away"));
    return;
  }
  ++sent_;
  Pump();
}

void WatchStream::End(const absl::Status& status) {
  // busy_ stays held: nothing is written after Finish.
  if (absl::IsResourceExhausted(status) || absl::IsUnavailable(status)) {
    spdlog::warn("watch ended correlation_id={} code={} sent={} error={}", correlation_id_,
                 absl::StatusCodeToString(status.code()), sent_,
                 common::LogValue(status.message()));
  } else {
    spdlog::info("watch ended correlation_id={} code={} sent={}", correlation_id_,
                 absl::StatusCodeToString(status.code()), sent_);
  }
  Finish(api::ToGrpcStatus(status));
}

void WatchStream::Pump() {
  for (;;) {
    if (cancelled_.load()) {
      End(absl::CancelledError("the client canceled the stream"));
      return;
    }
    if (absl::Status ended = subscription_->ended(); !ended.ok()) {
      End(ended);
      return;
    }
    // Headers once the stream has its place, not with the first step: a client (and the REST
    // gateway) knows the stream is open before anything happens to its tickets.
    if (!headers_sent_ && subscription_->ready()) {
      headers_sent_ = true;
      StartSendInitialMetadata();
    }
    if (taken_.empty()) {
      for (storage::StepRecord& step : subscription_->Take(64)) taken_.push_back(std::move(step));
    }
    if (!taken_.empty()) {
      ToProto(taken_.front(), hub_.options().step_kinds, message_);
      taken_.pop_front();
      StartWrite(&message_);  // busy_ is held until OnWriteDone
      return;
    }
    busy_.store(false);
    // Something may have arrived between the look above and the release: look again, unless
    // another thread has taken over meanwhile.
    const bool more = subscription_->queued() > 0 || !subscription_->ended().ok() ||
                      cancelled_.load() || (!headers_sent_ && subscription_->ready());
    if (!more || busy_.exchange(true)) return;
  }
}

void WatchStream::OnDone() {
  hub_.Unsubscribe(subscription_);
  self_.reset();  // may delete this: last
}

}  // namespace booking::server
