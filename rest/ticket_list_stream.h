#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "http/types.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::rest {

// `GET /tickets` of the original API: every ticket that is not canceled, as one JSON array,
// streamed page after page from ListTickets over the in-process channel (so authentication,
// metrics and the read executor apply as to any call). Each page is a short keyset query; the
// next is asked for only when the previous one is on the wire, so memory stays flat whatever
// the size of the table.
class TicketListStream final : public http::BodyStream,
                               public std::enable_shared_from_this<TicketListStream> {
 public:
  using Stub = tickets::v1::BookingService::Stub;
  using Metadata = std::vector<std::pair<std::string, std::string>>;

  // Reads the first page, then answers `done`: a streamed 200, or the first page's error as a
  // JSON error response (nothing has been sent yet, so the status can still say it).
  static void Start(std::shared_ptr<Stub> stub, Metadata metadata, int page_size,
                    absl::AnyInvocable<void(http::Response)> done);

  void Next(Deliver deliver) override;

  TicketListStream(std::shared_ptr<Stub> stub, Metadata metadata, int page_size)
      : stub_(std::move(stub)), metadata_(std::move(metadata)), page_size_(page_size) {}

 private:
  using Page = tickets::v1::ListTicketsResponse;
  void Fetch(absl::AnyInvocable<void(grpc::Status, Page)> then);
  std::string Render(const Page& page);  // the page's part of the array

  const std::shared_ptr<Stub> stub_;
  const Metadata metadata_;
  const int page_size_;
  // Touched by one Next at a time (the server asks for a piece only after the last one).
  std::unique_ptr<Page> first_page_;
  std::string next_token_;
  bool opened_ = false;  // "[" sent
  bool closed_ = false;  // "]" sent
  size_t rendered_ = 0;  // tickets sent
};

}  // namespace booking::rest
