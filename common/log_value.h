#pragma once

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace booking::common {

// A value from outside (a path, a header, an error text from PostgreSQL or an external API) fit
// for a `key=value` log field: as it is when it holds only characters that cannot end or forge
// a field, otherwise quoted with `"`, `\` and control bytes escaped, so `x status=200` stays
// one value. Every log line writes such values through it.
std::string LogValue(std::string_view value);
// Debian's Abseil has its own string_view (status messages); std::string would fit both.
inline std::string LogValue(absl::string_view value) {
  return LogValue(std::string_view(value.data(), value.size()));
}
inline std::string LogValue(const std::string& value) { return LogValue(std::string_view(value)); }
inline std::string LogValue(const char* value) { return LogValue(std::string_view(value)); }

}  // namespace booking::common
