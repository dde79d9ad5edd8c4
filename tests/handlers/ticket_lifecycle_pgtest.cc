// All five handlers behind the service's routes (HandlerSet), on a real PostgreSQL with the local
// receipts and tracker tables: events of one ticket delivered in any order, any number of times.
#include <cstdio>

#include "gtest/gtest.h"
#include "handlers/handler_set.h"
#include "storage/migrations.h"
#include "storage/pg_receipt_repository.h"
#include "storage/pg_ticket_repository.h"
#include "storage/pg_tracker_repository.h"
#include "tests/support/events.h"
#include "tests/support/test_database.h"

namespace booking::handlers {
namespace {

using testing::TicketEvent;

constexpr char kId[] = "5a1f3c9e-0b7d-4e2a-9c11-000000000001";

class TicketLifecyclePgTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(storage::Migrate(*pool_).ok()); }

  void Deliver(std::vector<domain::Event> events) {
    std::vector<pipeline::HandlerResult> failed =
        pipeline::Router::Failed(handlers_.router().Dispatch(events));
    for (const pipeline::HandlerResult& result : failed) ADD_FAILURE() << result.status;
  }
  std::string Status() { return db_.QueryValue("SELECT status FROM tickets"); }
  long long Rows(const std::string& sheet) {
    return db_.Count("tracker_rows WHERE sheet = '" + sheet + "'");
  }

  testing::TestDatabase db_;
  std::unique_ptr<storage::ConnectionPool> pool_ = db_.MakePool(2);
  storage::PgTicketRepository tickets_{*pool_};
  storage::PgReceiptRepository receipt_table_{*pool_};
  storage::PgTrackerRepository tracker_table_{*pool_};
  clients::LocalReceiptsApi receipts_{receipt_table_};
  clients::LocalSpreadsheetsApi sheets_{tracker_table_};
  HandlerSet handlers_{tickets_, receipts_, sheets_};  // the service's own routes
};

TEST_F(TicketLifecyclePgTest, ConfirmedTicketIsStoredReceiptedAndTracked) {
  Deliver({TicketEvent(kId, "confirmed", 1)});
  EXPECT_EQ(Status(), "confirmed");
  EXPECT_EQ(db_.Count("receipts"), 1);
  EXPECT_EQ(db_.QueryValue("SELECT idempotency_key FROM receipts"), std::string("key/") + kId);
  EXPECT_EQ(db_.QueryValue("SELECT receipt_number FROM receipts").substr(0, 2), "R-");
  EXPECT_EQ(Rows("tickets-to-print"), 1);
  EXPECT_EQ(db_.QueryValue("SELECT customer_email || ' ' || price_amount || ' ' || price_currency "
                           "FROM tracker_rows"),
            "ann@example.com 49.90 EUR");
}

TEST_F(TicketLifecyclePgTest, ConfirmTwiceRedeliveredChangesNothing) {
  domain::Event confirmed = TicketEvent(kId, "confirmed", 1);
  Deliver({confirmed});
  Deliver({confirmed});
  Deliver({confirmed, confirmed});
  EXPECT_EQ(db_.Count("tickets"), 1);
  EXPECT_EQ(db_.Count("receipts"), 1);
  EXPECT_EQ(Rows("tickets-to-print"), 1);
}

TEST_F(TicketLifecyclePgTest, CancelTwiceRefundsOnce) {
  Deliver({TicketEvent(kId, "confirmed", 1)});
  domain::Event canceled = TicketEvent(kId, "canceled", 2);
  Deliver({canceled});
  Deliver({canceled});
  EXPECT_EQ(Status(), "canceled");
  EXPECT_EQ(Rows("tickets-to-refund"), 1);
  EXPECT_TRUE(tickets_.ListActive("", 10)->empty());
}

// The box office cancels a ticket it never confirmed here, then confirms it: the confirmation
// is the newer event, so the ticket ends confirmed; both trackers have their row.
TEST_F(TicketLifecyclePgTest, CancelBeforeConfirm) {
  Deliver({TicketEvent(kId, "canceled", 1)});
  EXPECT_EQ(Status(), "canceled");
  Deliver({TicketEvent(kId, "confirmed", 2)});
  EXPECT_EQ(Status(), "confirmed");
  EXPECT_EQ(Rows("tickets-to-refund"), 1);
  EXPECT_EQ(Rows("tickets-to-print"), 1);
  EXPECT_EQ(tickets_.ListActive("", 10)->size(), 1u);
}

// Confirmed then canceled, but the events arrive the other way round (retries, two workers):
// the cancel is newer, so the late confirmation does not bring the ticket back.
TEST_F(TicketLifecyclePgTest, SwappedEventsEndAsTheNewerSays) {
  domain::Event confirmed = TicketEvent(kId, "confirmed", 1);
  domain::Event canceled = TicketEvent(kId, "canceled", 2);
  Deliver({canceled});
  Deliver({confirmed});
  EXPECT_EQ(Status(), "canceled");
  EXPECT_TRUE(tickets_.ListActive("", 10)->empty());
  // In one batch, in the wrong order, too.
  const std::string other = "5a1f3c9e-0b7d-4e2a-9c11-000000000002";
  Deliver({TicketEvent(other, "canceled", 4), TicketEvent(other, "confirmed", 3)});
  EXPECT_EQ(tickets_.Get(other)->status, "canceled");
}

}  // namespace
}  // namespace booking::handlers
