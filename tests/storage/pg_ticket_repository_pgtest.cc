#include <cstdio>

#include "gtest/gtest.h"
#include "storage/migrations.h"
#include "storage/pg_ticket_repository.h"
#include "tests/support/test_database.h"

namespace booking::storage {
namespace {

using testing::TestDatabase;

std::string Id(int i) {
  char id[37];
  std::snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", i);
  return id;
}

domain::Ticket Record(int i, std::string status = "confirmed", int64_t sequence = 1) {
  return {Id(i), "ann@example.com", "49.90", "EUR", std::move(status), "", sequence, {}};
}

class PgTicketRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = db_.MakePool(2);
    ASSERT_TRUE(Migrate(*pool_).ok());
    repository_ = std::make_unique<PgTicketRepository>(*pool_);
  }

  TestDatabase db_;
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<PgTicketRepository> repository_;
};

TEST_F(PgTicketRepositoryTest, StoresAndReadsBackExactly) {
  domain::Ticket record = Record(1);
  record.customer_email = "o'brien\"x\\y,{z}@example.com";
  record.price_amount = "99999999.99";
  record.booking_id = "0b7d4e2a-5a1f-3c9e-9c11-000000000009";
  ASSERT_TRUE(repository_->Upsert({record}).ok()) << repository_->Upsert({record});
  absl::StatusOr<domain::Ticket> got = repository_->Get(Id(1));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->customer_email, record.customer_email);
  EXPECT_EQ(got->price_amount, "99999999.99");
  EXPECT_EQ(got->price_currency, "EUR");
  EXPECT_EQ(got->status, "confirmed");
  EXPECT_EQ(got->booking_id, record.booking_id);
  EXPECT_EQ(got->last_event_sequence, 1);
  EXPECT_LT(absl::Now() - got->updated_at, absl::Minutes(5));
}

TEST_F(PgTicketRepositoryTest, AmountKeepsTwoDecimals) {
  domain::Ticket record = Record(1);
  record.price_amount = "5";
  ASSERT_TRUE(repository_->Upsert({record}).ok()) << repository_->Upsert({record});
  EXPECT_EQ(repository_->Get(Id(1))->price_amount, "5.00");
}

TEST_F(PgTicketRepositoryTest, GetUnknownIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(repository_->Get(Id(404)).status()));
}

TEST_F(PgTicketRepositoryTest, SameRecordTwiceChangesNothing) {
  ASSERT_TRUE(repository_->Upsert({Record(1)}).ok());
  const std::string before = db_.QueryValue("SELECT updated_at::text FROM tickets");
  ASSERT_TRUE(repository_->Upsert({Record(1)}).ok());
  EXPECT_EQ(db_.Count("tickets"), 1);
  EXPECT_EQ(db_.QueryValue("SELECT updated_at::text FROM tickets"), before);
}

TEST_F(PgTicketRepositoryTest, NewerEventWinsWhateverTheArrivalOrder) {
  ASSERT_TRUE(repository_->Upsert({Record(1, "canceled", 5)}).ok());
  ASSERT_TRUE(repository_->Upsert({Record(1, "confirmed", 4)}).ok());
  EXPECT_EQ(repository_->Get(Id(1))->status, "canceled");
  ASSERT_TRUE(repository_->Upsert({Record(1, "confirmed", 6)}).ok());
  EXPECT_EQ(repository_->Get(Id(1))->status, "confirmed");
}

TEST_F(PgTicketRepositoryTest, BatchWithSameTicketTwiceKeepsNewest) {
  std::vector<domain::Ticket> batch = {Record(1, "confirmed", 1), Record(1, "canceled", 3),
                                       Record(1, "confirmed", 2), Record(2)};
  ASSERT_TRUE(repository_->Upsert(batch).ok());
  EXPECT_EQ(db_.Count("tickets"), 2);
  EXPECT_EQ(repository_->Get(Id(1))->status, "canceled");
  EXPECT_EQ(repository_->Get(Id(1))->last_event_sequence, 3);
}

TEST_F(PgTicketRepositoryTest, LargeBatchInOneStatement) {
  std::vector<domain::Ticket> batch;
  for (int i = 0; i < 5000; ++i) batch.push_back(Record(i, "confirmed", i + 1));
  ASSERT_TRUE(repository_->Upsert(batch).ok());
  EXPECT_EQ(db_.Count("tickets"), 5000);
  EXPECT_EQ(*repository_->MaxEventSequence(), 5000);
}

TEST_F(PgTicketRepositoryTest, ListsActiveInPagesByTicketId) {
  std::vector<domain::Ticket> batch;
  for (int i = 0; i < 7; ++i) batch.push_back(Record(i, i % 3 == 0 ? "canceled" : "confirmed"));
  ASSERT_TRUE(repository_->Upsert(batch).ok());
  absl::StatusOr<std::vector<domain::Ticket>> first = repository_->ListActive("", 3);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 3u);
  EXPECT_EQ((*first)[0].ticket_id, Id(1));
  EXPECT_EQ((*first)[1].ticket_id, Id(2));
  EXPECT_EQ((*first)[2].ticket_id, Id(4));
  absl::StatusOr<std::vector<domain::Ticket>> rest = repository_->ListActive(Id(4), 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].ticket_id, Id(5));
}

TEST_F(PgTicketRepositoryTest, InvalidValueIsRejectedAndNothingWritten) {
  domain::Ticket bad = Record(2);
  bad.price_amount = "not-a-number";
  absl::Status status = repository_->Upsert({Record(1), bad});
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(db_.Count("tickets"), 0);
}

TEST_F(PgTicketRepositoryTest, MaxEventSequenceOfEmptyTableIsZero) {
  EXPECT_EQ(*repository_->MaxEventSequence(), 0);
}

}  // namespace
}  // namespace booking::storage
