#pragma once

#include <atomic>
#include <memory>

#include "api/token_authenticator.h"
#include "metrics/metrics.h"
#include "pipeline/event_log.h"
#include "server/completion_waiter.h"
#include "server/in_flight_calls.h"
#include "server/query_executor.h"
#include "server/request_validator.h"
#include "server/watch_hub.h"
#include "server/watch_quota.h"
#include "storage/ticket_history.h"
#include "storage/ticket_repository.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::server {

struct BookingServiceOptions {
  ValidationLimits limits;
  bool require_idempotency_key = true;
  int default_page_size = 100;
  int max_page_size = 1000;
  metrics::Metrics* metrics = nullptr;  // events accepted
  // When set, UpdateTicketsStatus (and the reads, if auth_reads) need an accepted bearer token.
  const api::TokenAuthenticator* auth = nullptr;
  bool auth_reads = false;
  // UpdateTicketsStatus calls waiting for their events to be committed, at most; beyond it a call
  // gets RESOURCE_EXHAUSTED at once.
  int max_concurrent_calls = 10000;
  // Calls that asked for STORED or COMPLETED and wait for the handlers, at most; beyond it such a
  // call gets RESOURCE_EXHAUSTED before anything is published.
  int max_waiting_calls = 2000;
  // Bytes of UpdateTicketsStatus requests held at once (from arrival to answer, the wait
  // included), at most: the limits above count calls, a call may be max_message_bytes.
  size_t max_call_bytes = 256 << 20;
  // When set and false (the database health check gets no answer), UpdateTicketsStatus answers
  // UNAVAILABLE at once rather than queueing for a commit that cannot happen.
  const std::atomic<bool>* database_reachable = nullptr;
  // Answers calls that ask for STORED or COMPLETED once their events are handled; without it
  // (the in-memory log) such calls are answered at once, with consistency_reached false.
  CompletionWaiter* waiter = nullptr;
  // The longest such a call waits, whatever its deadline.
  absl::Duration max_wait = absl::Seconds(10);
  // Serves WatchTickets; without it (the in-memory log) WatchTickets is FAILED_PRECONDITION.
  WatchHub* watch = nullptr;
  int max_watch_tickets = 1000;      // ticket ids one WatchTickets call may name
  size_t max_watch_streams = 10000;  // open on this instance; beyond: RESOURCE_EXHAUSTED
  // Open per client (its token when tokens are on, else its IP address): beyond, the client
  // gets RESOURCE_EXHAUSTED while others still get streams.
  size_t max_watch_streams_per_client = 1000;
  // When set, a cancellation is accepted only for a ticket confirmed before: earlier in the same
  // call, or known to this history (stored, or confirmed in the log); else FAILED_PRECONDITION
  // and nothing is published. The lookup runs on the query executor. Unset (or with
  // --accept_unknown_cancellations, for importing legacy cancellations): every cancellation.
  storage::TicketHistory* ticket_history = nullptr;
};

struct UpdateCall;  // booking_service.cc

// The tickets.v1.BookingService API on gRPC's callback API. Writes are validated, turned into
// events and handed to the event log, which finishes the call once they are durable; reads run
// on the query executor. No method blocks a gRPC thread.
class BookingService final : public tickets::v1::BookingService::CallbackService {
 public:
  BookingService(pipeline::EventLog& event_log, storage::TicketRepository& tickets,
                 QueryExecutor& reads, BookingServiceOptions options)
      : event_log_(event_log),
        tickets_(tickets),
        reads_(reads),
        options_(options),
        watch_quota_(options.max_watch_streams_per_client) {}

  grpc::ServerUnaryReactor* UpdateTicketsStatus(
      grpc::CallbackServerContext* context, const tickets::v1::UpdateTicketsStatusRequest* request,
      tickets::v1::UpdateTicketsStatusResponse* response) override;

  grpc::ServerUnaryReactor* ListTickets(grpc::CallbackServerContext* context,
                                        const tickets::v1::ListTicketsRequest* request,
                                        tickets::v1::ListTicketsResponse* response) override;

  grpc::ServerUnaryReactor* GetTicket(grpc::CallbackServerContext* context,
                                      const tickets::v1::GetTicketRequest* request,
                                      tickets::v1::Ticket* response) override;
  grpc::ServerWriteReactor<tickets::v1::TicketStep>* WatchTickets(
      grpc::CallbackServerContext* context,
      const tickets::v1::WatchTicketsRequest* request) override;

  // Writes holding one of --max_concurrent_calls now (waiting for their events' commit).
  size_t calls_in_flight() const { return in_flight_->load(); }

 private:
  // Hands a validated call's events to the log (one call per key at a time).
  void Publish(std::shared_ptr<UpdateCall> call, std::vector<domain::Event> events,
               std::string unscoped_key);

  pipeline::EventLog& event_log_;
  storage::TicketRepository& tickets_;
  QueryExecutor& reads_;
  const BookingServiceOptions options_;
  // Shared with the append callbacks, which may run after the service is gone at shutdown.
  std::shared_ptr<std::atomic<size_t>> in_flight_ = std::make_shared<std::atomic<size_t>>(0);
  WatchQuota watch_quota_;
  std::shared_ptr<std::atomic<size_t>> waiting_ = std::make_shared<std::atomic<size_t>>(0);
  std::shared_ptr<std::atomic<size_t>> call_bytes_ = std::make_shared<std::atomic<size_t>>(0);
  std::shared_ptr<InFlightCalls> keys_in_flight_ = std::make_shared<InFlightCalls>();
};

}  // namespace booking::server
