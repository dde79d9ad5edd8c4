#pragma once

#include <string>
#include <string_view>

namespace booking::storage {

// What `idempotency_keys` is keyed by: the first 16 bytes of the key's SHA-256, as PostgreSQL
// prints a uuid. The same as the SQL function call_key_digest(key), which the schema defines
// (migration 14); computed here so the append spends no database time on it.
std::string CallKeyDigest(std::string_view key);

}  // namespace booking::storage
