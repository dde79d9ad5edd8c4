#include "rest/ticket_list_stream.h"

#include <google/protobuf/util/json_util.h>

#include "absl/time/clock.h"
#include "common/log_value.h"
#include "rest/proto_json.h"
#include "rest/rest_error.h"
#include "spdlog/spdlog.h"

namespace booking::rest {
namespace {

constexpr absl::Duration kPageDeadline = absl::Seconds(30);

}  // namespace

void TicketListStream::Start(std::shared_ptr<Stub> stub, Metadata metadata, int page_size,
                             absl::AnyInvocable<void(http::Response)> done) {
  auto stream = std::make_shared<TicketListStream>(std::move(stub), std::move(metadata), page_size);
  stream->Fetch([stream, done = std::move(done)](grpc::Status status, Page page) mutable {
    if (!status.ok()) {
      done(RestError(status));
      return;
    }
    stream->first_page_ = std::make_unique<Page>(std::move(page));
    http::Response response;
    response.stream = stream;
    done(std::move(response));
  });
}

void TicketListStream::Fetch(absl::AnyInvocable<void(grpc::Status, Page)> then) {
  struct Call {
    grpc::ClientContext context;
    tickets::v1::ListTicketsRequest request;
    Page response;
    absl::AnyInvocable<void(grpc::Status, Page)> then;
  };
  auto* call = new Call;
  call->then = std::move(then);
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + kPageDeadline));
  for (const auto& [name, value] : metadata_) call->context.AddMetadata(name, value);
  call->request.set_page_size(page_size_);
  call->request.set_page_token(next_token_);
  stub_->async()->ListTickets(&call->context, &call->request, &call->response,
                              [call](grpc::Status status) {
                                // The context goes before `then`, which may end the
                                // stream and let the channel go.
                                std::unique_ptr<Call> owned(call);
                                auto then = std::move(owned->then);
                                Page page = std::move(owned->response);
                                owned.reset();
                                then(std::move(status), std::move(page));
                              });
}

std::string TicketListStream::Render(const Page& page) {
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;  // as the rest of the REST API
  std::string piece = opened_ ? "" : "[";
  opened_ = true;
  for (const tickets::v1::Ticket& ticket : page.tickets()) {
    absl::StatusOr<std::string> json = ToJson(ticket, print);
    if (!json.ok()) {
      // The 200 is on the wire already: the ticket is left out, and said so in the log.
      spdlog::error("ticket left out of GET /tickets ticket_id={} error={}", ticket.ticket_id(),
                    common::LogValue(json.status().message()));
      continue;
    }
    // The separator only before a ticket that is sent: one left out must leave no stray comma.
    if (rendered_++ > 0) piece += ",";
    piece += *json;
  }
  next_token_ = page.next_page_token();
  if (next_token_.empty()) {
    piece += "]";
    closed_ = true;
  }
  return piece;
}

void TicketListStream::Next(Deliver deliver) {
  if (closed_) {
    std::move(deliver)(std::string());  // the end
    return;
  }
  if (first_page_ != nullptr) {
    std::unique_ptr<Page> page = std::move(first_page_);
    std::move(deliver)(Render(*page));
    return;
  }
  Fetch([self = shared_from_this(), deliver = std::move(deliver)](grpc::Status status,
                                                                  Page page) mutable {
    if (!status.ok()) {
      std::move(deliver)(
          absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message()));
      return;
    }
    std::string piece = self->Render(page);
    if (piece.empty()) {
      self->Next(std::move(deliver));  // an empty page with more to come: ask again
      return;
    }
    std::move(deliver)(std::move(piece));
  });
}

}  // namespace booking::rest
