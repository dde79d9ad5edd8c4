#include "server/admin_service.h"

#include "absl/strings/str_cat.h"
#include "api/error_details.h"
#include "spdlog/spdlog.h"

namespace booking::server {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

grpc::ServerUnaryReactor* Finish(grpc::ServerUnaryReactor* reactor, const absl::Status& status) {
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* Busy(grpc::ServerUnaryReactor* reactor) {
  return Finish(reactor, absl::ResourceExhaustedError("too many reads in progress; retry later"));
}

}  // namespace

grpc::ServerUnaryReactor* AdminService::ListDeadLetters(
    grpc::CallbackServerContext* context, const tickets::v1::ListDeadLettersRequest* request,
    tickets::v1::ListDeadLettersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (auth_ != nullptr) {
    if (absl::Status auth = auth_->Check(*context, Scope::kAdmin); !auth.ok())
      return Finish(reactor, auth);
  }
  if (request->page_size() < 0) {
    return Finish(reactor, absl::InvalidArgumentError("page_size: must not be negative"));
  }
  const int limit =
      request->page_size() == 0 ? kDefaultPageSize : std::min(request->page_size(), kMaxPageSize);
  const bool submitted = executor_.TrySubmit([this, reactor, response, limit] {
    absl::StatusOr<std::vector<storage::DeadLetterRecord>> letters = store_.ListDeadLetters(limit);
    if (!letters.ok()) {
      Finish(reactor, letters.status());
      return;
    }
    for (const storage::DeadLetterRecord& letter : *letters) {
      tickets::v1::DeadLetter* out = response->add_dead_letters();
      out->mutable_id()->set_sequence(letter.event.sequence);
      out->mutable_id()->set_handler(letter.handler);
      out->set_event_id(letter.event.event_id);
      out->set_event_type(letter.event.event_type);
      out->set_ticket_id(letter.event.ticket_id);
      out->set_correlation_id(letter.event.correlation_id);
      out->set_attempts(letter.attempts);
      out->set_reason(letter.reason);
      const int64_t micros = absl::ToUnixMicros(letter.failed_at);
      out->mutable_failed_at()->set_seconds(micros / 1'000'000);
      out->mutable_failed_at()->set_nanos(static_cast<int32_t>(micros % 1'000'000) * 1000);
    }
    reactor->Finish(grpc::Status::OK);
  });
  return submitted ? reactor : Busy(reactor);
}

grpc::ServerUnaryReactor* AdminService::GetHandlerStatus(
    grpc::CallbackServerContext* context, const tickets::v1::GetHandlerStatusRequest*,
    tickets::v1::GetHandlerStatusResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (auth_ != nullptr) {
    if (absl::Status auth = auth_->Check(*context, Scope::kAdmin); !auth.ok())
      return Finish(reactor, auth);
  }
  if (!handler_status_) {
    return Finish(reactor, absl::FailedPreconditionError("this instance runs no handlers"));
  }
  *response = handler_status_();  // in memory: no need for the executor
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::RetryDeadLetters(
    grpc::CallbackServerContext* context, const tickets::v1::RetryDeadLettersRequest* request,
    tickets::v1::RetryDeadLettersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (auth_ != nullptr) {
    if (absl::Status auth = auth_->Check(*context, Scope::kAdmin); !auth.ok())
      return Finish(reactor, auth);
  }
  if (request->all() == (request->ids_size() > 0)) {
    return Finish(reactor, absl::InvalidArgumentError(
                               "ids: give the dead letters to retry, or set all (not both)"));
  }
  std::vector<std::pair<int64_t, std::string>> ids;
  for (int i = 0; i < request->ids_size(); ++i) {
    const auto& id = request->ids(i);
    if (id.sequence() <= 0 || id.handler().empty()) {
      return Finish(reactor, absl::InvalidArgumentError(absl::StrCat(
                                 "ids[", i, "]: needs the sequence and handler of a dead letter")));
    }
    ids.emplace_back(id.sequence(), id.handler());
  }
  const bool submitted =
      executor_.TrySubmit([this, reactor, response, ids = std::move(ids), all = request->all()] {
        absl::StatusOr<int> retried = store_.RetryDeadLetters(ids, all);
        if (!retried.ok()) {
          Finish(reactor, retried.status());
          return;
        }
        response->set_retried(*retried);
        spdlog::info("dead letters sent back for another try count={}", *retried);
        reactor->Finish(grpc::Status::OK);
      });
  return submitted ? reactor : Busy(reactor);
}

}  // namespace booking::server
