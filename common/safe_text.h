#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace booking::common {

// Text from outside (an API's error body, a reason, a receipt number) made fit to store and
// show: valid UTF-8, each invalid byte and NUL replaced by U+FFFD, and at most `max_bytes`
// long, cut at a character boundary. PostgreSQL refuses a text column holding anything else
// (SQLSTATE 22021), and protobuf refuses such a string field: a byte cut mid-character must
// never make a commit or an answer fail for good.
std::string SafeText(std::string_view text, size_t max_bytes);

// True when `text` is valid UTF-8 without NUL.
bool IsSafeText(std::string_view text);

}  // namespace booking::common
