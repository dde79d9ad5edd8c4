#include <cstdio>
#include <pqxx/pqxx>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/migrations.h"
#include "storage/pg_ticket_history.h"
#include "storage/pg_ticket_repository.h"
#include "tests/support/test_database.h"

namespace booking::storage {
namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::string Id(int i) {
  char id[37];
  std::snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", i);
  return id;
}

class PgTicketHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = db_.MakePool(2);
    ASSERT_TRUE(Migrate(*pool_).ok());
  }
  void AddEvent(const std::string& type, int ticket) {
    db_.Exec(
        "INSERT INTO events (event_id, event_type, ticket_id, idempotency_key,"
        " correlation_id, payload, partition) VALUES (gen_random_uuid(), '" +
        type + "', '" + Id(ticket) + "', 'k/" + Id(ticket) + type + "', 'c', '\\x00', 0)");
  }

  testing::TestDatabase db_;
  std::unique_ptr<ConnectionPool> pool_;
};

TEST_F(PgTicketHistoryTest, StoredTicketsAndConfirmationsInTheLogCountAndNothingElse) {
  PgTicketRepository tickets(*pool_);
  ASSERT_TRUE(
      tickets.Upsert({{Id(1), "a@example.com", "1.00", "EUR", "canceled", "", 1, {}}}).ok());
  AddEvent("tickets.v1.TicketBookingConfirmed", 2);  // in the log, not stored yet
  AddEvent("tickets.v1.TicketBookingCanceled", 3);   // a cancellation alone sells nothing
  PgTicketHistory history(*pool_);
  absl::StatusOr<std::vector<std::string>> confirmed =
      history.Confirmed({Id(1), Id(2), Id(3), Id(4), Id(2)});
  ASSERT_TRUE(confirmed.ok()) << confirmed.status();
  EXPECT_THAT(*confirmed, UnorderedElementsAre(Id(1), Id(2)));
  EXPECT_THAT(*history.Confirmed({}), IsEmpty());
}

// Each side is an index probe: the lookup must not read whole tables as they grow.
TEST_F(PgTicketHistoryTest, LooksUpByIndexWhateverTheTablesSize) {
  db_.Exec(
      "INSERT INTO events (event_id, event_type, ticket_id, idempotency_key, correlation_id,"
      " payload, partition) SELECT gen_random_uuid(), 'tickets.v1.TicketBookingConfirmed',"
      " gen_random_uuid(), 'bulk/' || g, 'c', '\\x00', (g % 16)::smallint"
      " FROM generate_series(1, 200000) g");
  db_.Exec("ANALYZE events");
  std::string sql;
  for (const PreparedStatement& statement : PgTicketHistory::Statements()) sql = statement.sql;
  const std::string probe = absl::StrReplaceAll(sql, {{"$1::uuid[]", "'{" + Id(9) + "}'::uuid[]"}});
  pqxx::connection conn(db_.url());
  pqxx::nontransaction txn(conn);
  std::string text;
  for (const auto& row : txn.exec("EXPLAIN " + probe)) text += row[0].as<std::string>() + "\n";
  EXPECT_THAT(text, ::testing::Not(::testing::HasSubstr("Seq Scan"))) << text;
}

}  // namespace
}  // namespace booking::storage
