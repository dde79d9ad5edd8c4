#include "server/booking_service.h"

#include <algorithm>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/call_metadata.h"
#include "api/error_details.h"
#include "common/log_value.h"
#include "common/reservation.h"
#include "common/uuid.h"
#include "domain/event_factory.h"
#include "server/cancellation_check.h"
#include "server/page_token.h"
#include "server/request_fingerprint.h"
#include "server/watch_stream.h"
#include "spdlog/spdlog.h"

namespace booking::server {
namespace {

using tickets::v1::Ticket;

// Takes the caller's correlation id (or makes one) and echoes it in the response metadata.
std::string StartCall(grpc::CallbackServerContext* context) {
  std::string correlation_id =
      api::ResolveCorrelationId(api::FindMetadata(*context, api::kCorrelationIdHeader));
  context->AddInitialMetadata(api::kCorrelationIdHeader, correlation_id);
  return correlation_id;
}

grpc::ServerUnaryReactor* Fail(grpc::ServerUnaryReactor* reactor, std::string_view method,
                               std::string_view correlation_id, const absl::Status& status) {
  if (absl::IsInvalidArgument(status) || absl::IsNotFound(status)) {
    spdlog::info("call rejected method={} correlation_id={} code={} error={}", method,
                 correlation_id, absl::StatusCodeToString(status.code()),
                 common::LogValue(status.message()));
  } else {
    spdlog::warn("call failed method={} correlation_id={} code={} error={}", method, correlation_id,
                 absl::StatusCodeToString(status.code()), common::LogValue(status.message()));
  }
  reactor->Finish(api::ToGrpcStatus(status));
  return reactor;
}

void ToProto(const domain::Ticket& record, Ticket& ticket) {
  ticket.set_ticket_id(record.ticket_id);
  ticket.set_customer_email(record.customer_email);
  ticket.mutable_price()->set_amount(record.price_amount);
  ticket.mutable_price()->set_currency(record.price_currency);
  ticket.set_status(record.status);
  ticket.set_booking_id(record.booking_id);
  const int64_t micros = absl::ToUnixMicros(record.updated_at);
  ticket.mutable_updated_at()->set_seconds(micros / 1'000'000);
  ticket.mutable_updated_at()->set_nanos(static_cast<int32_t>(micros % 1'000'000) * 1000);
}

// The level a call asked to wait for: the request field, else a `Prefer: wait=stored|completed`
// header (forwarded by the REST gateway); nullopt for ACCEPTED, the default.
std::optional<CompletionWaiter::Level> WaitLevel(
    const tickets::v1::UpdateTicketsStatusRequest& request,
    const grpc::ServerContextBase& context) {
  using Request = tickets::v1::UpdateTicketsStatusRequest;
  switch (request.consistency()) {
    case Request::STORED:
      return CompletionWaiter::Level::kStored;
    case Request::COMPLETED:
      return CompletionWaiter::Level::kCompleted;
    case Request::ACCEPTED:
      return std::nullopt;
    default:
      break;
  }
  std::optional<std::string_view> prefer = api::FindMetadata(context, "prefer");
  if (!prefer.has_value()) return std::nullopt;
  // RFC 7240: preferences separated by commas, parameters by semicolons, names case-blind.
  for (absl::string_view preference : absl::StrSplit(std::string(*prefer), absl::ByAnyChar(",;"))) {
    const std::string item = absl::AsciiStrToLower(absl::StripAsciiWhitespace(preference));
    if (item == "wait=stored") return CompletionWaiter::Level::kStored;
    if (item == "wait=completed") return CompletionWaiter::Level::kCompleted;
  }
  return std::nullopt;
}

absl::Status Busy() {
  return absl::ResourceExhaustedError("too many reads in progress; retry later");
}

}  // namespace

// An UpdateTicketsStatus call waiting for its events (or for the call ahead of it with the same
// idempotency key), answered from the log's thread.
struct UpdateCall : std::enable_shared_from_this<UpdateCall> {
  grpc::ServerUnaryReactor* reactor = nullptr;
  tickets::v1::UpdateTicketsStatusResponse* response = nullptr;
  metrics::Metrics* metrics = nullptr;
  std::shared_ptr<std::atomic<size_t>> in_flight;  // outlive the reservations below
  std::shared_ptr<std::atomic<size_t>> waiting;
  std::shared_ptr<std::atomic<size_t>> call_bytes;
  common::Reservation slot;          // one of max_concurrent_calls until committed
  common::Reservation waiting_slot;  // one of max_waiting_calls until answered, if it waits
  common::Reservation bytes;         // the request's size, of max_call_bytes, until answered
  std::string correlation_id;
  std::string key;         // as sent: what answers and logs name
  std::string scoped_key;  // the caller's key (pipeline::ScopedKey): what dedups
  std::string fingerprint;
  std::vector<std::string> event_ids;
  size_t ticket_count = 0;
  // Set when the caller asked to wait for the handlers: the events' keys and tickets, in order.
  CompletionWaiter* waiter = nullptr;
  std::optional<CompletionWaiter::Level> level;
  absl::Time wait_deadline;
  std::vector<std::pair<std::string, std::string>> event_tickets;  // (event key, ticket id)

  void Answer(const absl::StatusOr<pipeline::AppendResult>& result) {
    constexpr std::string_view kMethod = "UpdateTicketsStatus";
    slot.Reset();
    if (!result.ok() || result->outcome == pipeline::AppendResult::Outcome::kKeyReused) {
      Release();
      Fail(reactor, kMethod, correlation_id,
           result.ok() ? api::IdempotencyKeyReused(key) : result.status());
      return;
    }
    const bool replayed = result->outcome == pipeline::AppendResult::Outcome::kReplayed;
    response->set_accepted_events(result->published);
    if (metrics != nullptr) metrics->EventsAccepted(ticket_count);
    if (replayed) {
      spdlog::info("request replayed correlation_id={} idempotency_key={} accepted_events={}",
                   correlation_id, key, result->published);
    } else {
      spdlog::info("tickets accepted correlation_id={} tickets={} published={} event_ids={}",
                   correlation_id, ticket_count, result->published, absl::StrJoin(event_ids, ","));
    }
    if (!level.has_value()) {
      Release();
      reactor->Finish(grpc::Status::OK);
    } else if (waiter == nullptr) {
      response->set_consistency_reached(false);  // the in-memory log keeps no progress
      Release();
      reactor->Finish(grpc::Status::OK);
    } else {
      std::vector<std::string> keys;
      keys.reserve(event_tickets.size());
      for (const auto& [event_key, ticket] : event_tickets) keys.push_back(event_key);
      waiter->Wait(std::move(keys), *level, wait_deadline,
                   [self = shared_from_this()](CompletionWaiter::Outcome outcome) {
                     self->AnswerWaited(outcome);
                   });
    }
  }

  // After the wait: how far each ticket got, in the call's order.
  void AnswerWaited(const CompletionWaiter::Outcome& outcome) {
    response->set_consistency_reached(outcome.reached);
    for (const auto& [event_key, ticket_id] : event_tickets) {
      tickets::v1::TicketProgress& progress = *response->add_progress();
      progress.set_ticket_id(ticket_id);
      for (const storage::HandlerState& state : outcome.states) {
        if (state.idempotency_key != event_key) continue;
        switch (state.state) {
          case storage::HandlerState::State::kFinished:
            progress.add_finished_handlers(state.handler);
            break;
          case storage::HandlerState::State::kDeadLettered:
            progress.add_dead_lettered_handlers(state.handler);
            break;
          case storage::HandlerState::State::kPending:
            progress.add_pending_handlers(state.handler);
            break;
        }
      }
    }
    spdlog::info("wait answered correlation_id={} consistency_reached={}", correlation_id,
                 outcome.reached);
    Release();
    reactor->Finish(grpc::Status::OK);
  }

  // The call is answered: what it held is free for others.
  void Release() {
    waiting_slot.Reset();
    bytes.Reset();
  }

  // The answer of a call that waited for `first`, the call ahead of it with the same key.
  void AnswerAfter(const InFlightCalls::Outcome& first) {
    if (first.fingerprint == fingerprint) {
      // The same request: the first call's answer, as a replay (nothing more was published).
      absl::StatusOr<pipeline::AppendResult> result = first.result;
      if (result.ok() && result->outcome == pipeline::AppendResult::Outcome::kPublished) {
        result->outcome = pipeline::AppendResult::Outcome::kReplayed;
      }
      Answer(result);
    } else if (first.result.ok()) {
      Answer(pipeline::AppendResult{0, pipeline::AppendResult::Outcome::kKeyReused});
    } else {
      Answer(absl::AbortedError(absl::StrCat("idempotency_key: the call that held key \"", key,
                                             "\" failed meanwhile; retry")));
    }
  }
};

grpc::ServerUnaryReactor* BookingService::UpdateTicketsStatus(
    grpc::CallbackServerContext* context, const tickets::v1::UpdateTicketsStatusRequest* request,
    tickets::v1::UpdateTicketsStatusResponse* response) {
  static constexpr std::string_view kMethod = "UpdateTicketsStatus";
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::string correlation_id = StartCall(context);
  if (options_.auth != nullptr) {
    if (absl::Status auth = options_.auth->Check(*context, api::Scope::kWrite); !auth.ok()) {
      return Fail(reactor, kMethod, correlation_id, auth);
    }
  }

  absl::StatusOr<std::string> key =
      api::ResolveIdempotencyKey(api::FindMetadata(*context, api::kIdempotencyKeyHeader),
                                 request->idempotency_key(), options_.require_idempotency_key);
  // Every bad field of the call in one answer, the key's included.
  if (absl::Status valid = ValidateRequest(*request, options_.limits); !key.ok() || !valid.ok()) {
    return Fail(reactor, kMethod, correlation_id,
                api::MergeInvalidArguments({key.status(), valid}));
  }

  if (options_.database_reachable != nullptr && !options_.database_reachable->load()) {
    return Fail(reactor, kMethod, correlation_id,
                absl::UnavailableError("the database does not answer (health NOT_SERVING); "
                                       "nothing was published, retry later"));
  }
  std::optional<CompletionWaiter::Level> level = WaitLevel(*request, *context);
  // Bounds, each checked before anything is published: calls, bytes, and calls that wait.
  std::optional<common::Reservation> slot = common::Reservation::TryTake(
      *in_flight_, 1, static_cast<size_t>(options_.max_concurrent_calls));
  if (!slot.has_value()) {
    return Fail(reactor, kMethod, correlation_id,
                absl::ResourceExhaustedError(absl::StrCat(
                    "max_concurrent_calls: ", options_.max_concurrent_calls,
                    " calls are waiting for their events to be committed; retry later")));
  }
  std::optional<common::Reservation> bytes =
      common::Reservation::TryTake(*call_bytes_, request->ByteSizeLong(), options_.max_call_bytes);
  if (!bytes.has_value()) {
    return Fail(reactor, kMethod, correlation_id,
                absl::ResourceExhaustedError(absl::StrCat(
                    "max_call_bytes: calls holding ", options_.max_call_bytes,
                    " bytes of requests are in progress; nothing was published, retry later")));
  }
  std::optional<common::Reservation> waiting_slot;
  if (level.has_value() && options_.waiter != nullptr) {
    waiting_slot =
        common::Reservation::TryTake(*waiting_, 1, static_cast<size_t>(options_.max_waiting_calls));
    if (!waiting_slot.has_value()) {
      return Fail(reactor, kMethod, correlation_id,
                  absl::ResourceExhaustedError(absl::StrCat(
                      "max_waiting_calls: ", options_.max_waiting_calls,
                      " calls are waiting for the handlers; nothing was published, retry later "
                      "or ask for ACCEPTED")));
    }
  }
  auto call = std::make_shared<UpdateCall>();
  call->reactor = reactor;
  call->response = response;
  call->metrics = options_.metrics;
  call->in_flight = in_flight_;
  call->waiting = waiting_;
  call->call_bytes = call_bytes_;
  call->slot = *std::move(slot);
  call->bytes = *std::move(bytes);
  if (waiting_slot.has_value()) call->waiting_slot = *std::move(waiting_slot);
  call->correlation_id = std::move(correlation_id);
  call->key = *key;
  // With tokens on, a key is the caller's own: another caller can neither claim nor probe it.
  // The events' keys (and so the receipts') derive from the scoped key.
  const std::string caller = options_.auth != nullptr ? options_.auth->CallerOf(*context) : "";
  call->scoped_key = pipeline::ScopedKey(caller, *key);
  call->fingerprint = RequestFingerprint(*request);
  std::vector<domain::Event> events =
      domain::BuildEvents(*request, call->scoped_key, call->correlation_id, absl::Now());
  call->ticket_count = events.size();
  if (level.has_value()) {
    call->level = level;
    call->waiter = options_.waiter;
    // Bounded by --max_wait and by the call's own deadline, answering a fifth of the time left
    // before it (50-500 ms), so the client gets the progress rather than DEADLINE_EXCEEDED.
    const absl::Time now = absl::Now();
    absl::Time deadline = now + options_.max_wait;
    const absl::Time client_deadline = absl::FromChrono(context->deadline());
    if (client_deadline < now + options_.max_wait + absl::Seconds(1)) {
      const absl::Duration margin =
          std::clamp((client_deadline - now) / 5, absl::Milliseconds(50), absl::Milliseconds(500));
      deadline = std::min(deadline, client_deadline - margin);
    }
    call->wait_deadline = deadline;
    for (const domain::Event& event : events) {
      call->event_tickets.emplace_back(event.idempotency_key, event.ticket_id);
    }
  }
  // The ids are only copied when the accept line will be written.
  if (spdlog::should_log(spdlog::level::info)) {
    call->event_ids.reserve(events.size());
    for (const domain::Event& event : events) call->event_ids.push_back(event.id);
  }
  std::string unscoped_key = caller.empty() ? "" : *key;
  std::vector<CancellationToCheck> to_check;
  if (options_.ticket_history != nullptr) to_check = CancellationsToCheck(events);
  if (to_check.empty()) {
    Publish(std::move(call), std::move(events), std::move(unscoped_key));
    return reactor;
  }
  // A cancellation needs its ticket's confirmation: looked up on a query thread, holding the
  // call's reservations meanwhile.
  const bool submitted = reads_.TrySubmit([this, call, events = std::move(events),
                                           unscoped_key = std::move(unscoped_key),
                                           to_check = std::move(to_check)]() mutable {
    std::vector<std::string> ids;
    ids.reserve(to_check.size());
    for (const CancellationToCheck& c : to_check) ids.push_back(c.ticket_id);
    absl::StatusOr<std::vector<std::string>> confirmed = options_.ticket_history->Confirmed(ids);
    if (!confirmed.ok()) {
      Fail(call->reactor, kMethod, call->correlation_id, confirmed.status());
      return;
    }
    std::vector<CancellationToCheck> unknown = Unconfirmed(std::move(to_check), *confirmed);
    if (!unknown.empty()) {
      Fail(call->reactor, kMethod, call->correlation_id, NeverConfirmed(unknown));
      return;
    }
    Publish(std::move(call), std::move(events), std::move(unscoped_key));
  });
  if (!submitted) return Fail(reactor, kMethod, call->correlation_id, Busy());
  return reactor;
}

void BookingService::Publish(std::shared_ptr<UpdateCall> call, std::vector<domain::Event> events,
                             std::string unscoped_key) {
  // One call per key reaches the log at a time; a concurrent one waits for its outcome.
  const bool first = keys_in_flight_->Enter(
      call->scoped_key,
      [call](const InFlightCalls::Outcome& outcome) { call->AnswerAfter(outcome); });
  if (!first) return;
  event_log_.Append(
      pipeline::CallIdentity{call->scoped_key, call->fingerprint, std::move(unscoped_key)},
      std::move(events),
      [call, keys = keys_in_flight_](absl::StatusOr<pipeline::AppendResult> result) {
        call->Answer(result);
        keys->Finish(call->scoped_key,
                     InFlightCalls::Outcome{call->fingerprint, std::move(result)});
      });
}

grpc::ServerUnaryReactor* BookingService::ListTickets(
    grpc::CallbackServerContext* context, const tickets::v1::ListTicketsRequest* request,
    tickets::v1::ListTicketsResponse* response) {
  static constexpr std::string_view kMethod = "ListTickets";
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::string correlation_id = StartCall(context);
  if (options_.auth != nullptr && options_.auth_reads) {
    if (absl::Status auth = options_.auth->Check(*context, api::Scope::kRead); !auth.ok()) {
      return Fail(reactor, kMethod, correlation_id, auth);
    }
  }

  if (request->page_size() < 0) {
    return Fail(reactor, kMethod, correlation_id,
                absl::InvalidArgumentError("page_size: must not be negative"));
  }
  const int page_size = request->page_size() == 0
                            ? options_.default_page_size
                            : std::min(request->page_size(), options_.max_page_size);
  std::string after;
  if (!request->page_token().empty()) {
    absl::StatusOr<std::string> decoded = DecodePageToken(request->page_token());
    if (!decoded.ok()) return Fail(reactor, kMethod, correlation_id, decoded.status());
    after = *std::move(decoded);
  }
  const bool submitted = reads_.TrySubmit([this, reactor, response, page_size,
                                           after = std::move(after), correlation_id]() {
    // One extra row tells whether another page follows.
    absl::StatusOr<std::vector<domain::Ticket>> rows = tickets_.ListActive(after, page_size + 1);
    if (!rows.ok()) {
      Fail(reactor, kMethod, correlation_id, rows.status());
      return;
    }
    const bool more = static_cast<int>(rows->size()) > page_size;
    if (more) rows->resize(page_size);
    for (const domain::Ticket& row : *rows) ToProto(row, *response->add_tickets());
    if (more) response->set_next_page_token(EncodePageToken(rows->back().ticket_id));
    reactor->Finish(grpc::Status::OK);
  });
  if (!submitted) Fail(reactor, kMethod, correlation_id, Busy());
  return reactor;
}

grpc::ServerUnaryReactor* BookingService::GetTicket(grpc::CallbackServerContext* context,
                                                    const tickets::v1::GetTicketRequest* request,
                                                    Ticket* response) {
  static constexpr std::string_view kMethod = "GetTicket";
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::string correlation_id = StartCall(context);
  if (options_.auth != nullptr && options_.auth_reads) {
    if (absl::Status auth = options_.auth->Check(*context, api::Scope::kRead); !auth.ok()) {
      return Fail(reactor, kMethod, correlation_id, auth);
    }
  }

  if (!common::IsUuid(request->ticket_id())) {
    return Fail(reactor, kMethod, correlation_id,
                absl::InvalidArgumentError(absl::StrCat("ticket_id: must be a UUID, got \"",
                                                        request->ticket_id().substr(0, 64), "\"")));
  }
  const bool submitted =
      reads_.TrySubmit([this, reactor, response, correlation_id,
                        ticket_id = common::NormalizeUuid(request->ticket_id())]() {
        absl::StatusOr<domain::Ticket> row = tickets_.Get(ticket_id);
        if (!row.ok()) {
          Fail(reactor, kMethod, correlation_id, row.status());
          return;
        }
        ToProto(*row, *response);
        reactor->Finish(grpc::Status::OK);
      });
  if (!submitted) Fail(reactor, kMethod, correlation_id, Busy());
  return reactor;
}

namespace {

// A WatchTickets call refused before it started.
class RefusedWatch final : public grpc::ServerWriteReactor<tickets::v1::TicketStep> {
 public:
  explicit RefusedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

namespace {

// Who a watcher is, for its share of the streams: its caller when tokens are on and it shows an
// accepted token (TokenAuthenticator::CallerOf: never the token), else its IP address (the port
// left out: one client, many connections). A call from the REST gateway (in process) names its HTTP
// client's address.
std::string WatchClient(const grpc::CallbackServerContext& context,
                        const api::TokenAuthenticator* auth) {
  if (auth != nullptr) {
    if (std::string caller = auth->CallerOf(context); !caller.empty()) {
      return absl::StrCat("caller:", caller);
    }
  }
  const std::string peer = context.peer();
  if (peer.starts_with("ipv4:") || peer.starts_with("ipv6:")) {
    const size_t colon = peer.rfind(':');
    return peer.substr(5, colon == std::string::npos || colon < 5 ? std::string::npos : colon - 5);
  }
  if (std::optional<std::string_view> address =
          api::FindMetadata(context, api::kClientAddressMetadata)) {
    return std::string(address->substr(0, 64));
  }
  return peer.substr(0, 64);
}

}  // namespace

grpc::ServerWriteReactor<tickets::v1::TicketStep>* BookingService::WatchTickets(
    grpc::CallbackServerContext* context, const tickets::v1::WatchTicketsRequest* request) {
  constexpr std::string_view kMethod = "WatchTickets";
  std::string correlation_id = StartCall(context);
  auto refuse = [&](const absl::Status& status) {
    spdlog::info("call rejected method={} correlation_id={} code={} error={}", kMethod,
                 correlation_id, absl::StatusCodeToString(status.code()),
                 common::LogValue(status.message()));
    return new RefusedWatch(api::ToGrpcStatus(status));
  };
  if (options_.auth != nullptr && options_.auth_reads) {
    if (absl::Status auth = options_.auth->Check(*context, api::Scope::kRead); !auth.ok()) {
      return refuse(auth);
    }
  }
  // No hub only with the in-memory log, which keeps no progress to read.
  if (options_.watch == nullptr) {
    return refuse(absl::FailedPreconditionError(
        "watching needs the durable event log: --event_log=postgres (the default), not memory"));
  }
  // Each open stream holds memory (its queue, about 20 KiB idle): a bound, so that a client
  // opening streams without end cannot exhaust the instance.
  if (options_.watch->subscribers() >= options_.max_watch_streams) {
    return refuse(absl::ResourceExhaustedError(
        absl::StrCat("too many watch streams open on this instance (", options_.max_watch_streams,
                     "); retry later or on another instance")));
  }
  const std::string client = WatchClient(*context, options_.auth);
  std::optional<WatchQuota::Slot> slot = watch_quota_.TryTake(client);
  if (!slot.has_value()) {
    return refuse(absl::ResourceExhaustedError(absl::StrCat(
        "max_watch_streams_per_client: this client (", client, ") has ", watch_quota_.per_client(),
        " watch streams open; close one or watch more "
        "tickets per stream")));
  }
  if (request->ticket_ids_size() > options_.max_watch_tickets) {
    return refuse(
        absl::InvalidArgumentError(absl::StrCat("ticket_ids: at most ", options_.max_watch_tickets,
                                                " per call, got ", request->ticket_ids_size())));
  }
  std::vector<std::string> ids;
  ids.reserve(request->ticket_ids_size());
  for (int i = 0; i < request->ticket_ids_size(); ++i) {
    const std::string& id = request->ticket_ids(i);
    if (!common::IsUuid(id)) {
      return refuse(absl::InvalidArgumentError(
          absl::StrCat("ticket_ids[", i, "]: must be a UUID, got \"", id.substr(0, 64), "\"")));
    }
    ids.push_back(common::NormalizeUuid(id));
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::optional<storage::LogPosition> resume;
  if (!request->resume_token().empty()) {
    resume = ParseResumeToken(request->resume_token());
    if (!resume.has_value()) {
      return refuse(absl::InvalidArgumentError(
          "resume_token: not a token this service gave (take it from a TicketStep)"));
    }
  }
  return WatchStream::Start(*options_.watch, std::move(ids), resume, std::move(correlation_id),
                            std::move(slot));
}

}  // namespace booking::server
