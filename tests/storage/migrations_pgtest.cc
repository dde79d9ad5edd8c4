#include <thread>

#include "gtest/gtest.h"
#include "storage/migrations.h"
#include "tests/support/test_database.h"

namespace booking::storage {
namespace {

using testing::TestDatabase;

TEST(MigrationsPgTest, CreatesTheSchemaOnce) {
  TestDatabase db;
  auto pool = db.MakePool(1);
  absl::StatusOr<int> first = Migrate(*pool);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, static_cast<int>(SchemaMigrations().size()));
  absl::StatusOr<int> second = Migrate(*pool);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 0);
  EXPECT_EQ(db.Count("schema_migrations"), static_cast<long long>(SchemaMigrations().size()));
  EXPECT_EQ(db.QueryValue("SELECT data_type FROM information_schema.columns "
                          "WHERE table_name = 'tickets' AND column_name = 'price_amount'"),
            "numeric");
  EXPECT_EQ(db.QueryValue("SELECT numeric_precision || ',' || numeric_scale FROM "
                          "information_schema.columns WHERE table_name = 'tickets' AND "
                          "column_name = 'price_amount'"),
            "10,2");
  EXPECT_EQ(db.QueryValue("SELECT character_maximum_length FROM information_schema.columns "
                          "WHERE table_name = 'tickets' AND column_name = 'customer_email'"),
            "255");
}

TEST(MigrationsPgTest, ConcurrentInstancesApplyEachVersionOnce) {
  TestDatabase db;
  constexpr int kInstances = 4;
  std::vector<absl::StatusOr<int>> results(kInstances, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      auto pool = db.MakePool(1);
      results[i] = Migrate(*pool);
    });
  }
  for (auto& thread : threads) thread.join();
  int applied = 0;
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    applied += *result;
  }
  EXPECT_EQ(applied, static_cast<int>(SchemaMigrations().size()));
  EXPECT_EQ(db.Count("schema_migrations"), static_cast<long long>(SchemaMigrations().size()));
}

TEST(MigrationsPgTest, NewVersionIsAppliedOnTopAndFailureRollsBack) {
  TestDatabase db;
  auto pool = db.MakePool(1);
  ASSERT_TRUE(Migrate(*pool).ok());
  const Migration broken[] = {{1000, "broken", "CREATE TABLE x (a INT); SELECT nope"}};
  EXPECT_FALSE(Migrate(*pool, broken).ok());
  EXPECT_EQ(db.QueryValue("SELECT to_regclass('x')::text"), "") << "rolled back";
  const Migration extra[] = {{1001, "extra", "CREATE TABLE extra (a INT)"}};
  EXPECT_EQ(*Migrate(*pool, extra), 1);
  EXPECT_EQ(db.QueryValue("SELECT name FROM schema_migrations WHERE version = 1001"), "extra");
}

}  // namespace
}  // namespace booking::storage
