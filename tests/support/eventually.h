#pragma once

#include <functional>
#include <pqxx/pqxx>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace booking::testing {

// Polls `probe` every 20 ms until it holds or `timeout` has passed; true if it held. Eventual
// consistency in tests: every wait is bounded.
inline bool Eventually(const std::function<bool()>& probe,
                       absl::Duration timeout = absl::Seconds(60)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (probe()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return probe();
}

// Counts rows in the database at `url` (`from_where`: a table and optional condition); -1 while
// the database cannot be reached.
inline long long CountRows(const std::string& url, const std::string& from_where) {
  try {
    pqxx::connection conn(url);
    pqxx::nontransaction txn(conn);
    return txn.exec1(absl::StrCat("SELECT count(*) FROM ", from_where))[0].as<long long>();
  } catch (const std::exception&) {
    return -1;
  }
}

// The first column of `sql`'s rows, as text, in the database at `url`.
inline std::set<std::string> ColumnValues(const std::string& url, const std::string& sql) {
  std::set<std::string> out;
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  for (const auto& row : txn.exec(sql)) out.insert(row[0].as<std::string>());
  return out;
}

}  // namespace booking::testing
