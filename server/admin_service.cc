#include "server/admin_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/call_metadata.h"
#include "api/error_details.h"
#include "common/log_value.h"
#include "spdlog/spdlog.h"

namespace booking::server {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

grpc::ServerUnaryReactor* Finish(grpc::ServerUnaryReactor* reactor, const absl::Status& status) {
  reactor->Finish(api::ToGrpcStatus(status));
  return reactor;
}

// A Timestamp field of a request: unset is `unset`; out of range is a violation.
absl::Time TimeOf(const google::protobuf::Timestamp& t, absl::Time unset) {
  if (t.seconds() == 0 && t.nanos() == 0) return unset;
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

bool ValidTimestamp(const google::protobuf::Timestamp& t) {
  // google.protobuf.Timestamp's own range: 0001-01-01 to 9999-12-31.
  return t.seconds() >= -62135596800 && t.seconds() <= 253402300799 && t.nanos() >= 0 &&
         t.nanos() <= 999999999;
}

constexpr size_t kMaxFilterText = 200;

// A request's DeadLetterFilter as the store takes it, every broken field named in `violations`.
storage::DeadLetterFilter FilterOf(const tickets::v1::DeadLetterFilter& in,
                                   std::vector<api::FieldViolation>& violations) {
  storage::DeadLetterFilter filter;
  auto text = [&](const std::string& value, const char* field) {
    if (value.size() > kMaxFilterText) {
      violations.push_back({field, absl::StrCat("at most ", kMaxFilterText, " bytes")});
    } else if (value.find('\0') != std::string::npos) {
      violations.push_back({field, "must not hold a NUL character"});
    }
    return value;
  };
  filter.handler = text(in.handler(), "filter.handler");
  filter.reason_contains = text(in.reason_contains(), "filter.reason_contains");
  if (in.has_failed_after()) {
    if (!ValidTimestamp(in.failed_after())) {
      violations.push_back({"filter.failed_after", "not a valid timestamp"});
    } else {
      filter.failed_after = TimeOf(in.failed_after(), absl::InfinitePast());
    }
  }
  if (in.has_failed_before()) {
    if (!ValidTimestamp(in.failed_before())) {
      violations.push_back({"filter.failed_before", "not a valid timestamp"});
    } else {
      filter.failed_before = TimeOf(in.failed_before(), absl::InfiniteFuture());
    }
  }
  if (filter.failed_before <= filter.failed_after) {
    violations.push_back({"filter.failed_before", "must be after filter.failed_after"});
  }
  return filter;
}

absl::Status Refusal(const std::vector<api::FieldViolation>& violations) {
  return api::WithFieldViolations(absl::InvalidArgumentError(absl::StrCat(
                                      violations[0].field, ": ", violations[0].description)),
                                  violations);
}

// The checks of a ReplayHandlerRequest, every broken field at once.
std::vector<api::FieldViolation> ReplayViolations(
    const tickets::v1::ReplayHandlerRequest& request) {
  std::vector<api::FieldViolation> violations;
  if (request.handler().empty()) violations.push_back({"handler", "required"});
  if (request.from_sequence() < 0) violations.push_back({"from_sequence", "must not be negative"});
  if (request.to_sequence() < 0) violations.push_back({"to_sequence", "must not be negative"});
  if (request.to_sequence() > 0 && request.to_sequence() < request.from_sequence()) {
    violations.push_back({"to_sequence", "must not be before from_sequence"});
  }
  if (request.has_from_time() && !ValidTimestamp(request.from_time())) {
    violations.push_back({"from_time", "not a valid timestamp"});
  }
  if (request.has_to_time() && !ValidTimestamp(request.to_time())) {
    violations.push_back({"to_time", "not a valid timestamp"});
  }
  if (request.from_sequence() == 0 && !request.has_from_time()) {
    violations.push_back(
        {"from_sequence", "give where the replay starts: from_sequence or from_time"});
  }
  if (request.has_from_time() && request.has_to_time() &&
      TimeOf(request.to_time(), absl::InfiniteFuture()) <=
          TimeOf(request.from_time(), absl::InfinitePast())) {
    violations.push_back({"to_time", "must be after from_time"});
  }
  return violations;
}

grpc::ServerUnaryReactor* Busy(grpc::ServerUnaryReactor* reactor) {
  return Finish(reactor, absl::ResourceExhaustedError("too many reads in progress; retry later"));
}

}  // namespace

absl::Status AdminService::CheckAdmin(const grpc::CallbackServerContext& context) const {
  return auth_ == nullptr ? absl::OkStatus() : auth_->Check(context, api::Scope::kAdmin);
}

grpc::ServerUnaryReactor* AdminService::ListDeadLetters(
    grpc::CallbackServerContext* context, const tickets::v1::ListDeadLettersRequest* request,
    tickets::v1::ListDeadLettersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status auth = CheckAdmin(*context); !auth.ok()) return Finish(reactor, auth);
  std::vector<api::FieldViolation> violations;
  if (request->page_size() < 0) violations.push_back({"page_size", "must not be negative"});
  storage::DeadLetterFilter filter = FilterOf(request->filter(), violations);
  if (!violations.empty()) return Finish(reactor, Refusal(violations));
  const int limit =
      request->page_size() == 0 ? kDefaultPageSize : std::min(request->page_size(), kMaxPageSize);
  const bool submitted =
      executor_.TrySubmit([this, reactor, response, limit, filter = std::move(filter)] {
        absl::StatusOr<storage::DeadLetterPage> page = store_.ListDeadLetters(filter, limit);
        if (!page.ok()) {
          Finish(reactor, page.status());
          return;
        }
        response->set_total_matching(page->total_matching);
        for (const storage::DeadLetterRecord& letter : page->letters) {
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
  if (absl::Status auth = CheckAdmin(*context); !auth.ok()) return Finish(reactor, auth);
  if (!handler_status_) {
    return Finish(reactor, absl::FailedPreconditionError("this instance runs no handlers"));
  }
  // The lag may have to be counted in the database first: not on this callback's thread.
  const bool submitted = executor_.TrySubmit([this, reactor, response] {
    *response = handler_status_();
    reactor->Finish(grpc::Status::OK);
  });
  return submitted ? reactor : Busy(reactor);
}

grpc::ServerUnaryReactor* AdminService::RetryDeadLetters(
    grpc::CallbackServerContext* context, const tickets::v1::RetryDeadLettersRequest* request,
    tickets::v1::RetryDeadLettersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status auth = CheckAdmin(*context); !auth.ok()) return Finish(reactor, auth);
  const int ways = (request->ids_size() > 0) + request->all() + request->has_filter();
  if (ways != 1) {
    return Finish(reactor, absl::InvalidArgumentError(absl::StrCat(
                               "ids: give the dead letters to retry, set all, or give a filter (",
                               ways == 0 ? "none was given" : "only one of them", ")")));
  }
  std::vector<api::FieldViolation> violations;
  std::vector<std::pair<int64_t, std::string>> ids;
  for (int i = 0; i < request->ids_size(); ++i) {
    const auto& id = request->ids(i);
    if (id.sequence() <= 0 || id.handler().empty()) {
      violations.push_back(
          {absl::StrCat("ids[", i, "]"), "needs the sequence and handler of a dead letter"});
    }
    ids.emplace_back(id.sequence(), id.handler());
  }
  storage::DeadLetterFilter filter = FilterOf(request->filter(), violations);
  if (!violations.empty()) return Finish(reactor, Refusal(violations));
  const bool submitted =
      executor_.TrySubmit([this, reactor, response, ids = std::move(ids),
                           filter = std::move(filter), dry_run = request->dry_run()] {
        // `all` is the filter that matches everything.
        absl::StatusOr<int> count = ids.empty() ? store_.RetryMatching(filter, dry_run)
                                                : store_.RetryDeadLetters(ids, dry_run);
        if (!count.ok()) {
          Finish(reactor, count.status());
          return;
        }
        response->set_matched(*count);
        if (!dry_run) {
          response->set_retried(*count);
          spdlog::info(
              "dead letters sent back for another try count={} handler={} reason_contains={}",
              *count, common::LogValue(filter.handler), common::LogValue(filter.reason_contains));
        }
        reactor->Finish(grpc::Status::OK);
      });
  return submitted ? reactor : Busy(reactor);
}

grpc::ServerUnaryReactor* AdminService::ReplayHandler(
    grpc::CallbackServerContext* context, const tickets::v1::ReplayHandlerRequest* request,
    tickets::v1::ReplayHandlerResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status auth = CheckAdmin(*context); !auth.ok()) return Finish(reactor, auth);
  if (std::vector<api::FieldViolation> violations = ReplayViolations(*request);
      !violations.empty()) {
    return Finish(reactor, api::WithFieldViolations(
                               absl::InvalidArgumentError(absl::StrCat(violations[0].field, ": ",
                                                                       violations[0].description)),
                               violations));
  }
  storage::ReplayRange range{.from_sequence = request->from_sequence(),
                             .to_sequence = request->to_sequence(),
                             .from_time = TimeOf(request->from_time(), absl::InfinitePast()),
                             .to_time = TimeOf(request->to_time(), absl::InfiniteFuture())};
  std::string correlation_id =
      api::ResolveCorrelationId(api::FindMetadata(*context, api::kCorrelationIdHeader));
  const bool submitted = executor_.TrySubmit([this, reactor, response, handler = request->handler(),
                                              range, correlation_id = std::move(correlation_id)] {
    absl::StatusOr<storage::ReplayOutcome> outcome =
        store_.Replay(handler, range, kMaxReplayEvents);
    if (!outcome.ok()) {
      Finish(reactor, outcome.status());
      return;
    }
    response->set_replayed(outcome->replayed);
    response->set_event_type(outcome->event_type);
    spdlog::info(
        "handler replay scheduled handler={} events={} from_sequence={} to_sequence={} "
        "from_time={} to_time={} correlation_id={}",
        handler, outcome->replayed, range.from_sequence, range.to_sequence,
        absl::FormatTime(range.from_time), absl::FormatTime(range.to_time), correlation_id);
    reactor->Finish(grpc::Status::OK);
  });
  return submitted ? reactor : Busy(reactor);
}

grpc::ServerUnaryReactor* AdminService::RetireHandler(
    grpc::CallbackServerContext* context, const tickets::v1::RetireHandlerRequest* request,
    tickets::v1::RetireHandlerResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status auth = CheckAdmin(*context); !auth.ok()) return Finish(reactor, auth);
  if (request->handler().empty()) {
    return Finish(reactor, api::WithFieldViolations(absl::InvalidArgumentError("handler: required"),
                                                    {{"handler", "required"}}));
  }
  if (registry_ == nullptr) {
    return Finish(reactor, absl::UnimplementedError("this instance keeps no handler registry"));
  }
  const std::string& handler = request->handler();
  // Only this instance's configuration is known here; others sharing the database may run it
  // too, which is why retiring stays the operator's explicit act.
  if (std::find(configured_.begin(), configured_.end(), handler) != configured_.end()) {
    return Finish(reactor, api::WithPreconditionViolation(
                               absl::FailedPreconditionError(absl::StrCat(
                                   "handler: \"", handler,
                                   "\" is configured on this instance; retire only a handler no "
                                   "instance runs: restart them without it first")),
                               api::kHandlerConfiguredType, handler));
  }
  std::string correlation_id =
      api::ResolveCorrelationId(api::FindMetadata(*context, api::kCorrelationIdHeader));
  const bool submitted = executor_.TrySubmit([this, reactor, response, handler,
                                              correlation_id = std::move(correlation_id)] {
    absl::StatusOr<storage::RegisteredHandler> retired = registry_->Retire(handler);
    if (!retired.ok()) {
      Finish(reactor, retired.status());
      return;
    }
    response->set_handler(retired->handler);
    response->set_event_type(retired->event_type);
    if (retired->retired_at.has_value()) {
      const int64_t micros = absl::ToUnixMicros(*retired->retired_at);
      response->mutable_retired_at()->set_seconds(micros / 1'000'000);
      response->mutable_retired_at()->set_nanos(static_cast<int32_t>(micros % 1'000'000) * 1000);
    }
    spdlog::warn(
        "handler retired: it no longer holds back pruning or COMPLETED; an instance "
        "configured with it un-retires it handler={} retired_at={} correlation_id={}",
        common::LogValue(retired->handler),
        retired->retired_at.has_value() ? absl::FormatTime(*retired->retired_at) : "",
        correlation_id);
    reactor->Finish(grpc::Status::OK);
  });
  return submitted ? reactor : Busy(reactor);
}

}  // namespace booking::server
