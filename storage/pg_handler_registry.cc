#include "storage/pg_handler_registry.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"

namespace booking::storage {
namespace {

constexpr char kList[] = "handlers_list";
constexpr char kRetire[] = "handlers_retire";

constexpr char kColumns[] =
    "handler, event_type, (extract(epoch FROM registered_at) * 1000000)::bigint,"
    " (extract(epoch FROM retired_at) * 1000000)::bigint";

RegisteredHandler FromRow(const pqxx::row& row) {
  RegisteredHandler handler;
  handler.handler = row[0].as<std::string>();
  handler.event_type = row[1].as<std::string>();
  handler.registered_at = absl::FromUnixMicros(row[2].as<int64_t>());
  if (!row[3].is_null()) handler.retired_at = absl::FromUnixMicros(row[3].as<int64_t>());
  return handler;
}

}  // namespace

std::vector<PreparedStatement> PgHandlerRegistry::Statements() {
  return {
      {kList, absl::StrCat("SELECT ", kColumns, " FROM handlers ORDER BY handler")},
      // coalesce: a second retire keeps the first one's time.
      {kRetire, absl::StrCat("UPDATE handlers SET retired_at = coalesce(retired_at, now())"
                             " WHERE handler = $1 RETURNING ",
                             kColumns)},
  };
}

absl::StatusOr<std::vector<RegisteredHandler>> PgHandlerRegistry::List() {
  std::vector<RegisteredHandler> handlers;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    handlers.clear();
    for (const auto& row : txn.exec_prepared(kList)) handlers.push_back(FromRow(row));
  });
  if (!status.ok()) return status;
  return handlers;
}

absl::StatusOr<RegisteredHandler> PgHandlerRegistry::Retire(const std::string& handler) {
  std::optional<RegisteredHandler> retired;
  absl::Status status = pool_.Run([&](pqxx::transaction_base& txn) {
    const pqxx::result result = txn.exec_prepared(kRetire, handler);
    retired.reset();
    if (!result.empty()) retired = FromRow(result[0]);
  });
  if (!status.ok()) return status;
  if (!retired.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("handler: no handler named \"", handler, "\" is registered"));
  }
  return *std::move(retired);
}

}  // namespace booking::storage
