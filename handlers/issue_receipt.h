#pragma once

#include "clients/receipts_api.h"
#include "domain/handler.h"

namespace booking::handlers {

// On TicketBookingConfirmed: issues the ticket's receipt, keyed by the event's idempotency key
// (so a redelivered event, or the same request sent again, never makes a second receipt).
class IssueReceipt final : public domain::Handler {
 public:
  IssueReceipt(std::string_view name, clients::ReceiptsApi& receipts)
      : name_(name), receipts_(receipts) {}

  std::string_view name() const override { return name_; }
  absl::Status Handle(absl::Span<const domain::Event* const> events) override;
  void HandleEach(absl::Span<const domain::Event* const> events,
                  absl::Span<absl::Status> results) override;
  bool reports_each() const override { return receipts_.reports_each(); }

 private:
  const std::string name_;
  clients::ReceiptsApi& receipts_;
};

}  // namespace booking::handlers
