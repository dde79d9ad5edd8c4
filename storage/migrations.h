#pragma once

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "storage/connection_pool.h"

namespace booking::storage {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// The advisory lock (transaction-scoped) that start-up work on the schema runs under, so instances
// starting together do it once: migrations, and rebasing positions from another cluster. Any
// constant unique to this schema; pg_advisory_xact_lock takes a bigint.
inline constexpr long long kSchemaLockKey = 0x626f6f6b696e67;  // "booking"

// The schema's history, oldest first. Append new versions; never edit a released one.
absl::Span<const Migration> SchemaMigrations();

// Applies the migrations not yet recorded in `schema_migrations`, in order, in one transaction
// holding a transaction-scoped advisory lock, so instances starting together apply each once.
// Returns the number applied.
absl::StatusOr<int> Migrate(ConnectionPool& pool,
                            absl::Span<const Migration> migrations = SchemaMigrations());

}  // namespace booking::storage
