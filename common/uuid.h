#pragma once

#include <string>
#include <string_view>

namespace booking::common {

// A random (version 4) UUID in canonical lower-case form. Thread-safe.
std::string NewUuid();

// True for the canonical 8-4-4-4-12 hexadecimal form, in either case.
bool IsUuid(std::string_view text);

// Lower-cases a UUID so equal ids compare equal as text.
std::string NormalizeUuid(std::string_view uuid);

}  // namespace booking::common
