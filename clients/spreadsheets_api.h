#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "storage/tracker_repository.h"

namespace booking::clients {

inline constexpr std::string_view kTicketsToPrintSheet = "tickets-to-print";
inline constexpr std::string_view kTicketsToRefundSheet = "tickets-to-refund";

// Where tracker rows go: the spreadsheets service over HTTP, or the local `tracker_rows` table.
class SpreadsheetsApi {
 public:
  virtual ~SpreadsheetsApi() = default;

  // Appends one row per record to `sheet`. OK means all are appended; otherwise the status says
  // whether a retry can help.
  virtual absl::Status Append(std::string_view sheet,
                              absl::Span<const domain::TrackerRow> rows) = 0;

  // Appends each row on its own (concurrently where the API allows), one status per row in
  // `results`. The default appends the batch at once and gives every row its status.
  virtual void AppendEach(std::string_view sheet, absl::Span<const domain::TrackerRow> rows,
                          absl::Span<absl::Status> results) {
    const absl::Status status = Append(sheet, rows);
    for (absl::Status& result : results) result = status;
  }
  // True when AppendEach's statuses are each row's own.
  virtual bool reports_each() const { return false; }
};

// The embedded default: rows in the local table, once per (sheet, event).
class LocalSpreadsheetsApi final : public SpreadsheetsApi {
 public:
  explicit LocalSpreadsheetsApi(storage::TrackerRepository& repository) : repository_(repository) {}
  absl::Status Append(std::string_view sheet, absl::Span<const domain::TrackerRow> rows) override {
    return repository_.AppendAll(sheet, rows);
  }

 private:
  storage::TrackerRepository& repository_;
};

}  // namespace booking::clients
