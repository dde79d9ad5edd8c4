#include "common/uuid.h"

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include "absl/strings/ascii.h"

namespace booking::common {

std::string NewUuid() {
  // One generator per thread: it is not thread-safe, and seeding it is the costly part.
  thread_local boost::uuids::random_generator generator;
  return boost::uuids::to_string(generator());
}

bool IsUuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? text[i] != '-'
                      : !absl::ascii_isxdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return true;
}

std::string NormalizeUuid(std::string_view uuid) {
  std::string out(uuid);
  absl::AsciiStrToLower(&out);
  return out;
}

}  // namespace booking::common
