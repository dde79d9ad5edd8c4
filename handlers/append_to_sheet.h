#pragma once

#include <string>

#include "clients/spreadsheets_api.h"
#include "domain/handler.h"

namespace booking::handlers {

// Appends a row [ticket_id, customer_email, amount, currency] per event to one sheet. Registered
// twice: AppendToTracker (confirmed → "tickets-to-print") and AppendToRefund (canceled →
// "tickets-to-refund").
class AppendToSheet final : public domain::Handler {
 public:
  AppendToSheet(std::string name, std::string sheet, clients::SpreadsheetsApi& spreadsheets)
      : name_(std::move(name)), sheet_(std::move(sheet)), spreadsheets_(spreadsheets) {}

  std::string_view name() const override { return name_; }
  absl::Status Handle(absl::Span<const domain::Event* const> events) override;
  void HandleEach(absl::Span<const domain::Event* const> events,
                  absl::Span<absl::Status> results) override;
  bool reports_each() const override { return spreadsheets_.reports_each(); }

 private:
  const std::string name_;
  const std::string sheet_;
  clients::SpreadsheetsApi& spreadsheets_;
};

}  // namespace booking::handlers
