#include "storage/pg_errors.h"

#include <pqxx/except>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace booking::storage {
namespace {

constexpr char kConnectionLostPrefix[] = "postgres connection lost: ";

absl::Status FromSqlState(const std::string& state, const std::string& what) {
  // SQLSTATE classes: https://www.postgresql.org/docs/current/errcodes-appendix.html
  if (state == "57014") return absl::DeadlineExceededError(absl::StrCat("postgres: ", what));
  if (state == "40001" || state == "40P01" || state == "55P03") {
    return absl::AbortedError(absl::StrCat("postgres: ", what));
  }
  if (absl::StartsWith(state, "08") || absl::StartsWith(state, "57P")) {
    return absl::UnavailableError(absl::StrCat(kConnectionLostPrefix, what));
  }
  if (state == "53300" || absl::StartsWith(state, "53")) {
    return absl::UnavailableError(absl::StrCat("postgres: ", what));
  }
  if (state == "23505") return absl::AlreadyExistsError(absl::StrCat("postgres: ", what));
  if (absl::StartsWith(state, "23")) {
    return absl::FailedPreconditionError(absl::StrCat("postgres: ", what));
  }
  if (absl::StartsWith(state, "22")) {
    return absl::InvalidArgumentError(absl::StrCat("postgres: ", what));
  }
  return absl::InternalError(absl::StrCat("postgres (", state, "): ", what));
}

bool IsClientSideError(const std::exception& e) {
  return dynamic_cast<const pqxx::usage_error*>(&e) != nullptr ||
         dynamic_cast<const pqxx::argument_error*>(&e) != nullptr ||
         dynamic_cast<const pqxx::conversion_error*>(&e) != nullptr ||
         dynamic_cast<const pqxx::range_error*>(&e) != nullptr ||
         dynamic_cast<const pqxx::internal_error*>(&e) != nullptr;
}

bool IsConnectionFailure(const std::exception& e) {
  return dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
         dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr ||
         dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr;
}

bool IsRolledBack(const std::exception& e) {
  return dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr;
}

}  // namespace

absl::Status StatusFromPgException(const std::exception& e) {
  std::string what = e.what();
  while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
  if (IsConnectionFailure(e)) {
    return absl::UnavailableError(absl::StrCat(kConnectionLostPrefix, what));
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql != nullptr) {
    return FromSqlState(sql->sqlstate(), what);
  }
  // libpqxx 6 throws deadlocks and serialization failures as transaction_rollback, which is not
  // an sql_error: the statement was rolled back and may simply be run again.
  if (IsRolledBack(e)) return absl::AbortedError(absl::StrCat("postgres: ", what));
  if (IsClientSideError(e)) return absl::InternalError(absl::StrCat("postgres client: ", what));
  return absl::InternalError(absl::StrCat("postgres: unexpected error: ", what));
}

namespace {
constexpr char kOutcomeUnknown[] = "booking/outcome-unknown";
constexpr char kCommitted[] = "booking/committed";
}  // namespace

absl::Status MarkCommitted(absl::Status status) {
  status.SetPayload(kCommitted, absl::Cord("1"));
  return status;
}

bool IsCommitted(const absl::Status& status) { return status.GetPayload(kCommitted).has_value(); }

absl::Status MarkOutcomeUnknown(absl::Status status) {
  status.SetPayload(kOutcomeUnknown, absl::Cord("1"));
  return status;
}

bool IsOutcomeUnknown(const absl::Status& status) {
  return status.GetPayload(kOutcomeUnknown).has_value();
}

bool BreaksConnection(const std::exception& e) {
  if (IsConnectionFailure(e)) return true;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql != nullptr) {
    const std::string& state = sql->sqlstate();
    return state.empty() || absl::StartsWith(state, "08") || absl::StartsWith(state, "57P");
  }
  // A libpqxx usage error or a rolled-back statement leaves the connection usable; anything else
  // leaves it unknown.
  return !IsClientSideError(e) && !IsRolledBack(e);
}

}  // namespace booking::storage
