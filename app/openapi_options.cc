#include "app/openapi_options.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace booking::app {

openapi::OpenApiOptions OpenApiOptionsFor(const Config& config) {
  openapi::OpenApiOptions options;
  const bool auth_reads = config.service.auth_reads;
  options.scope_of = [auth_reads](const google::protobuf::MethodDescriptor& method) {
    if (method.service()->name() == "AdminService") return std::string("admin");
    if (method.name() == "UpdateTicketsStatus") return std::string("write");
    return auth_reads ? std::string("read") : std::string();
  };
  options.server_paths = true;
  options.paths_without_query = {"/tickets"};  // every ticket, streamed (http_gateway.cc)
  options.comments = &openapi::ProtoComments::Api();

  const std::string ticket = absl::StrCat("\"", kExampleTicketId, "\"");
  options.field_examples = {
      {"tickets.v1.GetTicketRequest.ticket_id", ticket},
      {"tickets.v1.ListTicketsRequest.page_size", "10"},
      {"tickets.v1.WatchTicketsRequest.ticket_ids", absl::StrCat("[", ticket, "]")},
      {"tickets.v1.ListDeadLettersRequest.page_size", "100"},
      {"tickets.v1.ReplayHandlerRequest.handler", "\"IssueReceipt\""},
      {"tickets.v1.RetireHandlerRequest.handler", "\"AppendToAudit\""},
      {"tickets.v1.TicketStatusChange.ticket_id", ticket},
      {"tickets.v1.TicketStatusChange.status", "\"confirmed\""},
      {"tickets.v1.TicketStatusChange.customer_email", "\"ada@example.com\""},
      {"tickets.v1.TicketStatusChange.booking_id", "\"0b7d4e2a-9c11-4b1f-8c2d-4e603b1f0c2d\""},
      {"tickets.v1.Money.amount", "\"49.90\""},
      {"tickets.v1.Money.currency", "\"EUR\""},
  };
  options.body_examples = {
      {"tickets.v1.BookingService.UpdateTicketsStatus",
       absl::StrCat(R"({"tickets":[{"ticket_id":)", ticket,
                    R"(,"status":"confirmed","customer_email":"ada@example.com",)",
                    R"("price":{"amount":"49.90","currency":"EUR"},)",
                    R"("booking_id":"0b7d4e2a-9c11-4b1f-8c2d-4e603b1f0c2d"}]})")},
      {"tickets.v1.AdminService.RetryDeadLetters", R"({"all":true})"},
      {"tickets.v1.AdminService.ReplayHandler", R"({"from_sequence":"1"})"},
      {"tickets.v1.AdminService.RetireHandler", "{}"},
  };
  options.extra_answers = {
      {"tickets.v1.BookingService.UpdateTicketsStatus",
       {{409,
         "FAILED_PRECONDITION, TICKET_NOT_CONFIRMED: a cancellation names a ticket that "
         "was never confirmed (google.rpc.PreconditionFailure, one violation per ticket, "
         "subject tickets[i]); nothing was published. --accept_unknown_cancellations "
         "takes them."}}},
      {"tickets.v1.AdminService.RetryDeadLetters",
       {{404,
         "NOT_FOUND: a named dead letter is not there (already retried, or never was); "
         "none of the named ones was sent back."}}},
      {"tickets.v1.AdminService.ReplayHandler",
       {{404, "NOT_FOUND: no handler of that name is registered."}}},
      {"tickets.v1.AdminService.RetireHandler",
       {{400,
         "INVALID_ARGUMENT (a google.rpc.BadRequest names the field), or "
         "FAILED_PRECONDITION: the handler is configured on the instance that serves the "
         "call."},
        {404, "NOT_FOUND: no handler of that name was ever registered."}}},
  };
  return options;
}

}  // namespace booking::app
