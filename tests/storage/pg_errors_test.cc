#include "storage/pg_errors.h"

#include <pqxx/except>

#include "gtest/gtest.h"

namespace booking::storage {
namespace {

TEST(PgErrorsTest, ClassifiesByRetryability) {
  // libpqxx 6 throws these as transaction_rollback, not sql_error: retryable, connection fine.
  EXPECT_TRUE(absl::IsAborted(StatusFromPgException(pqxx::deadlock_detected("deadlock detected"))));
  EXPECT_FALSE(BreaksConnection(pqxx::deadlock_detected("deadlock detected")));
  EXPECT_TRUE(absl::IsAborted(StatusFromPgException(pqxx::serialization_failure("serialize"))));
  EXPECT_TRUE(absl::IsUnavailable(StatusFromPgException(pqxx::statement_completion_unknown("?"))))
      << "the outcome is unknown: not a plain retry";
  EXPECT_TRUE(absl::IsUnavailable(StatusFromPgException(pqxx::broken_connection("gone"))));
  EXPECT_TRUE(BreaksConnection(pqxx::broken_connection("gone")));

  pqxx::sql_error timeout("canceling statement due to statement timeout", "SELECT", "57014");
  EXPECT_TRUE(absl::IsDeadlineExceeded(StatusFromPgException(timeout)));
  EXPECT_FALSE(BreaksConnection(timeout));

  pqxx::sql_error terminated("terminating connection", "SELECT", "57P01");
  EXPECT_TRUE(absl::IsUnavailable(StatusFromPgException(terminated)));
  EXPECT_TRUE(BreaksConnection(terminated));

  pqxx::sql_error serialization("could not serialize", "UPDATE", "40001");
  EXPECT_TRUE(absl::IsAborted(StatusFromPgException(serialization)));

  pqxx::sql_error unique("duplicate key", "INSERT", "23505");
  EXPECT_TRUE(absl::IsAlreadyExists(StatusFromPgException(unique)));

  pqxx::sql_error bad_value("invalid input syntax for type uuid", "SELECT", "22P02");
  EXPECT_TRUE(absl::IsInvalidArgument(StatusFromPgException(bad_value)));
  EXPECT_FALSE(BreaksConnection(bad_value));

  pqxx::unexpected_rows rows("expected 0 rows");
  EXPECT_TRUE(absl::IsInternal(StatusFromPgException(rows)));
  EXPECT_FALSE(BreaksConnection(rows));
}

}  // namespace
}  // namespace booking::storage
