#include "storage/migrations.h"

#include <pqxx/pqxx>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/log_value.h"
#include "spdlog/spdlog.h"

namespace booking::storage {
absl::StatusOr<int> Migrate(ConnectionPool& pool, absl::Span<const Migration> migrations) {
  int applied = 0;
  // Bounded by more than the lock wait below, not by the pool's short transaction_timeout.
  absl::Status status = pool.Transact(
      [&](pqxx::transaction_base& txn) {
        applied = 0;
        // Another instance may be migrating: wait for it, but not for ever.
        txn.exec0("SET LOCAL statement_timeout = '60s'");
        txn.exec_params("SELECT pg_advisory_xact_lock($1)", kSchemaLockKey);
        txn.exec0(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
        std::set<int> done;
        for (const auto& row : txn.exec("SELECT version FROM schema_migrations")) {
          done.insert(row[0].as<int>());
        }
        for (const Migration& migration : migrations) {
          if (done.count(migration.version) > 0) continue;
          txn.exec0(std::string(migration.sql));
          txn.exec_params0("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                           migration.version, std::string(migration.name));
          spdlog::info("schema migration applied version={} name={}", migration.version,
                       common::LogValue(migration.name));
          ++applied;
        }
      },
      absl::Minutes(2));
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat("schema migration: ", status.message()));
  }
  return applied;
}

}  // namespace booking::storage
