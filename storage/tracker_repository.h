#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace booking::storage {

// One row of a tracker sheet, from one event.
struct TrackerRowRecord {
  std::string event_id;
  std::string ticket_id;
  std::string customer_email;
  std::string price_amount;
  std::string price_currency;
  std::string correlation_id;
};

// The local `tracker_rows` table: the spreadsheets API's embedded default. Thread-safe.
class TrackerRepository {
 public:
  virtual ~TrackerRepository() = default;

  // Appends the rows to `sheet` in one transaction; a row whose event is already on the sheet is
  // not appended again.
  virtual absl::Status AppendAll(std::string_view sheet,
                                 absl::Span<const TrackerRowRecord> rows) = 0;
};

}  // namespace booking::storage
