#pragma once

#include "clients/receipts_api.h"
#include "domain/handler.h"
#include "domain/handler_names.h"

namespace booking::handlers {

// On TicketBookingConfirmed: issues the ticket's receipt, keyed by the event's idempotency key
// (so a redelivered event, or the same request sent again, never makes a second receipt).
class IssueReceipt final : public domain::Handler {
 public:
  explicit IssueReceipt(clients::ReceiptsApi& receipts) : receipts_(receipts) {}

  std::string_view name() const override { return domain::kIssueReceipt; }
  absl::Status Handle(absl::Span<const domain::Event* const> events) override;
  void HandleEach(absl::Span<const domain::Event* const> events,
                  absl::Span<absl::Status> results) override;
  bool reports_each() const override { return receipts_.reports_each(); }

 private:
  clients::ReceiptsApi& receipts_;
};

}  // namespace booking::handlers
