#pragma once

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"

namespace booking::compat {

// Problems that would stop events written under `baseline` from being read under `current`, or
// events written under `current` from being read by workers still running `baseline`: one
// human-readable line per break, naming the message, the field (number and name) and the rule.
// Empty when compatible. Checks every message and enum reachable from the baseline file's
// messages (nested and referenced ones, in other files too), since all of them are in the bytes.
// Allowed: new fields on new numbers, new messages, fields removed with number and name reserved.
[[nodiscard]] std::vector<std::string> CheckEventCompatibility(
    const google::protobuf::FileDescriptor& baseline,
    const google::protobuf::FileDescriptor& current);

}  // namespace booking::compat
