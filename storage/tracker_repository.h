#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "domain/tracker_row.h"

namespace booking::storage {

// The local `tracker_rows` table: the spreadsheets API's embedded default. Thread-safe.
class TrackerRepository {
 public:
  virtual ~TrackerRepository() = default;

  // Appends the rows to `sheet` in one transaction; a row whose event is already on the sheet is
  // not appended again.
  virtual absl::Status AppendAll(std::string_view sheet,
                                 absl::Span<const domain::TrackerRow> rows) = 0;
};

}  // namespace booking::storage
