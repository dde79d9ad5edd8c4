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

// The schema's history, oldest first. Append new versions; never edit a released one.
absl::Span<const Migration> SchemaMigrations();

// Applies the migrations not yet recorded in `schema_migrations`, in order, in one transaction
// holding a transaction-scoped advisory lock, so instances starting together apply each once.
// Returns the number applied.
absl::StatusOr<int> Migrate(ConnectionPool& pool,
                            absl::Span<const Migration> migrations = SchemaMigrations());

}  // namespace booking::storage
