#pragma once

#include <string>
#include <string_view>

#include "absl/types/span.h"

namespace booking::storage {

// Renders values as a PostgreSQL array literal ({"a","b",NULL}) to bind as ONE parameter, e.g.
// for `UNNEST($1::uuid[])`: batched statements with a fixed text, whatever the batch size. Every
// element is quoted and escaped, so values never become SQL.
template <typename T, typename Fn>
std::string ToPgArrayLiteral(absl::Span<const T> items, Fn&& field, bool empty_is_null = false) {
  std::string out;
  out.reserve(2 + items.size() * 40);  // a uuid with quotes and comma; grows for longer values
  out += '{';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    // Bound to a reference so a returned temporary lives through the loop body.
    const auto& held = field(items[i]);
    std::string_view value = held;
    if (empty_is_null && value.empty()) {
      out += "NULL";
      continue;
    }
    out += '"';
    // Copies runs between characters that need a backslash in one go: this runs for every
    // value of every batched statement.
    for (size_t special; (special = value.find_first_of("\"\\")) != std::string_view::npos;) {
      out.append(value.data(), special);
      out += '\\';
      out += value[special];
      value.remove_prefix(special + 1);
    }
    out.append(value.data(), value.size());
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace booking::storage
