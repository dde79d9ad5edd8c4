#include "gtest/gtest.h"
#include "storage/migrations.h"
#include "storage/pg_receipt_repository.h"
#include "storage/pg_tracker_repository.h"
#include "tests/support/test_database.h"

namespace booking::storage {
namespace {

class LocalApiTablesPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = db_.MakePool(2);
    ASSERT_TRUE(Migrate(*pool_).ok());
  }
  testing::TestDatabase db_;
  std::unique_ptr<ConnectionPool> pool_;
};

TEST_F(LocalApiTablesPgTest, OneReceiptPerIdempotencyKey) {
  PgReceiptRepository receipts(*pool_);
  const domain::ReceiptRequest batch[] = {
      {"k/1", "00000000-0000-4000-8000-000000000001", "49.90", "EUR", "c1"},
      {"k/2", "00000000-0000-4000-8000-000000000002", "5", "USD", "c2"}};
  ASSERT_TRUE(receipts.IssueAll(batch).ok());
  const std::string first = db_.QueryValue(
      "SELECT receipt_number FROM receipts WHERE "
      "idempotency_key = 'k/1'");
  ASSERT_TRUE(receipts.IssueAll(batch).ok());
  EXPECT_EQ(db_.Count("receipts"), 2);
  EXPECT_EQ(db_.QueryValue("SELECT receipt_number FROM receipts WHERE idempotency_key = 'k/1'"),
            first)
      << "an existing receipt keeps its number";
  EXPECT_EQ(db_.Count("(SELECT DISTINCT receipt_number FROM receipts) n"), 2);
  EXPECT_EQ(db_.QueryValue("SELECT price_amount || correlation_id FROM receipts WHERE "
                           "idempotency_key = 'k/2'"),
            "5.00c2");
}

TEST_F(LocalApiTablesPgTest, TrackerRowsOncePerSheetAndEvent) {
  PgTrackerRepository rows(*pool_);
  const domain::TrackerRow batch[] = {{"10000000-0000-4000-8000-000000000001",
                                       "00000000-0000-4000-8000-000000000001", "ann@example.com",
                                       "49.90", "EUR", "c1"}};
  ASSERT_TRUE(rows.AppendAll("tickets-to-print", batch).ok());
  ASSERT_TRUE(rows.AppendAll("tickets-to-print", batch).ok());
  ASSERT_TRUE(rows.AppendAll("tickets-to-refund", batch).ok());
  EXPECT_EQ(db_.Count("tracker_rows WHERE sheet = 'tickets-to-print'"), 1);
  EXPECT_EQ(db_.Count("tracker_rows WHERE sheet = 'tickets-to-refund'"), 1);
}

}  // namespace
}  // namespace booking::storage
