#include <atomic>
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/connection_pool.h"
#include "storage/pg_errors.h"
#include "tests/support/test_database.h"

namespace booking::storage {
namespace {

using testing::TestDatabase;

int BackendPid(ConnectionPool& pool) {
  int pid = 0;
  EXPECT_TRUE(pool.Transact([&](pqxx::transaction_base& txn) {
                    pid = txn.exec1("SELECT pg_backend_pid()")[0].as<int>();
                  })
                  .ok());
  return pid;
}

TEST(ConnectionPoolPgTest, RunsTransactionsAndCommits) {
  TestDatabase db;
  auto pool = db.MakePool(2);
  ASSERT_TRUE(pool->Transact([](pqxx::transaction_base& txn) {
                    txn.exec0("CREATE TABLE t (v INT)");
                    txn.exec0("INSERT INTO t VALUES (1)");
                  })
                  .ok());
  EXPECT_EQ(db.Count("t"), 1);
}

TEST(ConnectionPoolPgTest, ExceptionRollsBackAndBecomesStatus) {
  TestDatabase db;
  db.Exec("CREATE TABLE t (v INT PRIMARY KEY)");
  auto pool = db.MakePool(1);
  absl::Status status = pool->Transact([](pqxx::transaction_base& txn) {
    txn.exec0("INSERT INTO t VALUES (1)");
    txn.exec0("INSERT INTO t VALUES (1)");
  });
  EXPECT_TRUE(absl::IsAlreadyExists(status)) << status;
  EXPECT_EQ(db.Count("t"), 0) << "the whole transaction is rolled back";
  EXPECT_TRUE(pool->Transact([](pqxx::transaction_base& txn) { txn.exec("SELECT 1"); }).ok())
      << "the connection is still usable";
  EXPECT_EQ(pool->stats().reconnects, 1);
}

TEST(ConnectionPoolPgTest, NeverOpensMoreThanItsSize) {
  TestDatabase db;
  auto pool = db.MakePool(3);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        EXPECT_TRUE(pool->Transact([&](pqxx::transaction_base& txn) {
                          const int now = ++inside;
                          int seen = most.load();
                          while (now > seen && !most.compare_exchange_weak(seen, now)) {
                          }
                          txn.exec("SELECT pg_sleep(0.005)");
                          --inside;
                        })
                        .ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 2) << "checkouts did run concurrently";
  const long long backends = std::stoll(
      db.QueryValue("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"));
  EXPECT_EQ(backends, 3);
  EXPECT_EQ(pool->stats().size, 3);
  EXPECT_GT(pool->stats().waits, 0);
}

TEST(ConnectionPoolPgTest, CheckoutTimesOutWhenAllBusy) {
  TestDatabase db;
  storage::PoolOptions options;
  options.database_url = db.url();
  options.size = 1;
  options.acquire_timeout = absl::Milliseconds(100);
  ConnectionPool pool(options);
  std::promise<void> holding, release;
  std::shared_future<void> released = release.get_future().share();
  std::thread holder([&] {
    EXPECT_TRUE(pool.Transact([&](pqxx::transaction_base&) {
                      holding.set_value();
                      released.wait_for(std::chrono::seconds(10));
                    })
                    .ok());
  });
  ASSERT_EQ(holding.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const absl::Time start = absl::Now();
  absl::Status status = pool.Transact([](pqxx::transaction_base&) {});
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  release.set_value();
  holder.join();
}

TEST(ConnectionPoolPgTest, StatementTimeoutIsEnforced) {
  TestDatabase db;
  storage::PoolOptions options;
  options.database_url = db.url();
  options.size = 1;
  options.statement_timeout = absl::Milliseconds(200);
  ConnectionPool pool(options);
  const absl::Time start = absl::Now();
  absl::Status status =
      pool.Transact([](pqxx::transaction_base& txn) { txn.exec("SELECT pg_sleep(5)"); });
  EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_TRUE(pool.Transact([](pqxx::transaction_base& txn) { txn.exec("SELECT 1"); }).ok());
}

// Run is autocommit: one statement commits by itself, all or nothing; the timeout still holds.
TEST(ConnectionPoolPgTest, RunCommitsOneStatementAtomicallyWithTheTimeout) {
  TestDatabase db;
  db.Exec("CREATE TABLE t (id INT PRIMARY KEY)");
  storage::PoolOptions options;
  options.database_url = db.url();
  options.size = 1;
  options.statement_timeout = absl::Milliseconds(200);
  ConnectionPool pool(options);
  EXPECT_TRUE(
      pool.Run([](pqxx::transaction_base& txn) { txn.exec0("INSERT INTO t VALUES (1), (2)"); })
          .ok());
  EXPECT_EQ(db.Count("t"), 2);
  // The third row is new, the fourth collides: the statement inserts nothing.
  absl::Status collided =
      pool.Run([](pqxx::transaction_base& txn) { txn.exec0("INSERT INTO t VALUES (3), (1)"); });
  EXPECT_FALSE(collided.ok());
  EXPECT_EQ(db.Count("t"), 2);
  const absl::Time start = absl::Now();
  absl::Status slow = pool.Run([](pqxx::transaction_base& txn) { txn.exec("SELECT pg_sleep(5)"); });
  EXPECT_TRUE(absl::IsDeadlineExceeded(slow)) << slow;
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_TRUE(pool.Run([](pqxx::transaction_base& txn) { txn.exec("SELECT 1"); }).ok());
}

// A connection killed on the server while a transaction uses it: that call fails as UNAVAILABLE
// (retryable), and the pool opens a fresh connection for the next one.
TEST(ConnectionPoolPgTest, ReconnectsAfterBackendTerminatedInUse) {
  TestDatabase db;
  auto pool = db.MakePool(1);
  const int first_pid = BackendPid(*pool);
  ASSERT_GT(first_pid, 0);
  absl::Status status = pool->Transact([&](pqxx::transaction_base& txn) {
    {
      pqxx::connection killer(db.url());
      pqxx::nontransaction kill(killer);
      kill.exec_params("SELECT pg_terminate_backend($1)", first_pid);
    }
    txn.exec("SELECT 1");
  });
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_TRUE(storage::IsOutcomeUnknown(status)) << "lost with a statement in flight";
  const int second_pid = BackendPid(*pool);
  EXPECT_GT(second_pid, 0);
  EXPECT_NE(second_pid, first_pid);
  EXPECT_EQ(pool->stats().reconnects, 2);
}

// The client-side bound: a checkout that gets no answer within transaction_timeout has its socket
// cut (here the server is merely slow; on a dead network nothing else would end the wait), fails
// as UNAVAILABLE with the outcome unknown, and the next checkout reconnects. The same pool with
// no bound waits for the server.
TEST(ConnectionPoolPgTest, CutsACheckoutThatGetsNoAnswerInTime) {
  TestDatabase db;
  storage::PoolOptions options;
  options.database_url = db.url();
  options.size = 1;
  options.statement_timeout = absl::Seconds(30);
  options.transaction_timeout = absl::Milliseconds(500);
  ConnectionPool pool(options);
  const int first_pid = BackendPid(pool);
  const absl::Time start = absl::Now();
  absl::Status status =
      pool.Run([](pqxx::transaction_base& txn) { txn.exec("SELECT pg_sleep(3)"); });
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_TRUE(IsOutcomeUnknown(status)) << status;
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("connection cut"));
  EXPECT_GE(took, absl::Milliseconds(500));
  EXPECT_LT(took, absl::Milliseconds(1500));
  EXPECT_EQ(pool.stats().cuts, 1);
  const int second_pid = BackendPid(pool);
  EXPECT_GT(second_pid, 0);
  EXPECT_NE(second_pid, first_pid);

  // A longer bound for one transaction (migrations) is honoured.
  EXPECT_TRUE(pool.Transact([](pqxx::transaction_base& txn) { txn.exec("SELECT pg_sleep(1)"); },
                            absl::Seconds(5))
                  .ok());

  options.transaction_timeout = absl::ZeroDuration();
  ConnectionPool unbounded(options);
  EXPECT_TRUE(
      unbounded.Run([](pqxx::transaction_base& txn) { txn.exec("SELECT pg_sleep(1)"); }).ok());
  EXPECT_EQ(unbounded.stats().cuts, 0);
}

TEST(ConnectionPoolPgTest, UnreachableServerIsUnavailable) {
  storage::PoolOptions options;
  options.database_url = "postgresql://postgres@127.0.0.1:1/none";
  options.size = 1;
  ConnectionPool pool(options);
  absl::Status status = pool.Warm();
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  absl::Status run = pool.Run([](pqxx::transaction_base& txn) { txn.exec("SELECT 1"); });
  EXPECT_TRUE(absl::IsUnavailable(run)) << run;
  EXPECT_FALSE(storage::IsOutcomeUnknown(run)) << "nothing was sent: nothing happened";
}

TEST(ConnectionPoolTest, UrlHelpers) {
  EXPECT_EQ(WithConnectTimeout("postgresql://h/db", absl::Seconds(5)),
            "postgresql://h/db?connect_timeout=5");
  EXPECT_EQ(WithConnectTimeout("postgresql://h/db?sslmode=disable", absl::Seconds(5)),
            "postgresql://h/db?sslmode=disable&connect_timeout=5");
  EXPECT_EQ(WithConnectTimeout("host=h dbname=db", absl::Seconds(3)),
            "host=h dbname=db connect_timeout=3");
  EXPECT_EQ(WithNetworkTimeouts("postgresql://h/db", absl::Seconds(10)),
            "postgresql://h/db?keepalives=1&keepalives_idle=10&keepalives_interval=5&"
            "keepalives_count=3&tcp_user_timeout=10000");
  EXPECT_EQ(WithNetworkTimeouts("host=h keepalives_idle=60", absl::ZeroDuration()),
            "host=h keepalives_idle=60 keepalives_interval=5 keepalives_count=3");
  EXPECT_EQ(RedactDatabaseUrl("postgresql://bob:s3cret@h:5432/db"),
            "postgresql://bob:***@h:5432/db");
  EXPECT_EQ(RedactDatabaseUrl("host=h password=s3cret dbname=db"), "host=h password=*** dbname=db");
  EXPECT_EQ(RedactDatabaseUrl("postgresql://bob@h/db"), "postgresql://bob@h/db");
}

}  // namespace
}  // namespace booking::storage
