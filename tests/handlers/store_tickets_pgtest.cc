// StoreTickets (for confirmed and for canceled events) against a real PostgreSQL: redelivery and
// reordering leave the row as the newest event says.
#include "domain/event_types.h"
#include "gtest/gtest.h"
#include "handlers/store_tickets.h"
#include "storage/migrations.h"
#include "storage/pg_ticket_repository.h"
#include "tests/support/events.h"
#include "tests/support/test_database.h"

namespace booking::handlers {
namespace {

using testing::TicketEvent;

constexpr char kId[] = "5a1f3c9e-0b7d-4e2a-9c11-000000000001";

class StoreTicketsPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = db_.MakePool(2);
    ASSERT_TRUE(storage::Migrate(*pool_).ok());
    repository_ = std::make_unique<storage::PgTicketRepository>(*pool_);
    store_ = std::make_unique<StoreTickets>("StoreTickets", *repository_);
    remove_ = std::make_unique<StoreTickets>("RemoveCanceledTicket", *repository_);
  }
  absl::Status Deliver(domain::Handler& handler, const domain::Event& event) {
    const domain::Event* batch[] = {&event};
    return handler.Handle(batch);
  }
  std::string Row() {
    return db_.QueryValue(
        "SELECT status || ' ' || price_amount || ' ' || last_event_sequence || ' ' || updated_at "
        "FROM tickets");
  }

  testing::TestDatabase db_;
  std::unique_ptr<storage::ConnectionPool> pool_;
  std::unique_ptr<storage::PgTicketRepository> repository_;
  std::unique_ptr<StoreTickets> store_;
  std::unique_ptr<StoreTickets> remove_;
};

TEST_F(StoreTicketsPgTest, RedeliveredEventChangesNothing) {
  domain::Event event = TicketEvent(kId, "confirmed", 1);
  ASSERT_TRUE(Deliver(*store_, event).ok());
  const std::string before = Row();
  ASSERT_TRUE(Deliver(*store_, event).ok());
  ASSERT_TRUE(Deliver(*store_, event).ok());
  EXPECT_EQ(db_.Count("tickets"), 1);
  EXPECT_EQ(Row(), before);
}

TEST_F(StoreTicketsPgTest, CancelAfterConfirmRemovesFromList) {
  ASSERT_TRUE(Deliver(*store_, TicketEvent(kId, "confirmed", 1)).ok());
  ASSERT_TRUE(Deliver(*remove_, TicketEvent(kId, "canceled", 2)).ok());
  EXPECT_EQ(repository_->Get(kId)->status, "canceled");
  EXPECT_TRUE(repository_->ListActive("", 10)->empty());
}

TEST_F(StoreTicketsPgTest, ConfirmArrivingAfterNewerCancelIsIgnored) {
  ASSERT_TRUE(Deliver(*remove_, TicketEvent(kId, "canceled", 2)).ok());
  ASSERT_TRUE(Deliver(*store_, TicketEvent(kId, "confirmed", 1, "10.00")).ok());
  EXPECT_EQ(repository_->Get(kId)->status, "canceled");
  EXPECT_EQ(repository_->Get(kId)->price_amount, "49.90");
}

TEST_F(StoreTicketsPgTest, BatchOfManyTickets) {
  std::vector<domain::Event> events;
  for (int i = 0; i < 300; ++i) {
    char id[37];
    std::snprintf(id, sizeof(id), "5a1f3c9e-0b7d-4e2a-9c11-%012d", i);
    events.push_back(TicketEvent(id, "confirmed", i + 1));
  }
  std::vector<const domain::Event*> batch;
  for (const domain::Event& event : events) batch.push_back(&event);
  ASSERT_TRUE(store_->Handle(batch).ok());
  EXPECT_EQ(db_.Count("tickets"), 300);
}

}  // namespace
}  // namespace booking::handlers
