#include "tests/support/test_database.h"

#include <cstdlib>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "common/uuid.h"
#include "gtest/gtest.h"
#include "storage/pg_statements.h"

namespace booking::testing {
namespace {

// Replaces the database name in a postgresql:// URL.
std::string WithDatabase(const std::string& url, const std::string& database) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const size_t query = url.find('?');
  const std::string base = url.substr(0, slash == std::string::npos ? query : slash);
  const std::string params = query == std::string::npos ? "" : url.substr(query);
  return absl::StrCat(base, "/", database, params);
}

}  // namespace

std::string AdminDatabaseUrl() {
  const char* url = std::getenv("BOOKING_TEST_DATABASE_URL");
  if (url == nullptr || *url == '\0') {
    ADD_FAILURE() << "BOOKING_TEST_DATABASE_URL is not set: run the tests with tools/test.sh, "
                     "which starts a private PostgreSQL";
    return "postgresql://127.0.0.1:1/postgres";
  }
  return url;
}

TestDatabase::TestDatabase() {
  std::string suffix = common::NewUuid().substr(0, 8);
  name_ = absl::StrCat("booking_test_", suffix);
  url_ = WithDatabase(AdminDatabaseUrl(), name_);
  pqxx::connection admin(AdminDatabaseUrl());
  pqxx::nontransaction txn(admin);
  txn.exec0(absl::StrCat("CREATE DATABASE ", txn.quote_name(name_)));
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(AdminDatabaseUrl());
    pqxx::nontransaction txn(admin);
    txn.exec0(absl::StrCat("DROP DATABASE IF EXISTS ", txn.quote_name(name_), " WITH (FORCE)"));
  } catch (const std::exception& e) {
    ADD_FAILURE() << "dropping test database " << name_ << ": " << e.what();
  }
}

std::unique_ptr<storage::ConnectionPool> TestDatabase::MakePool(int size) const {
  storage::PoolOptions options;
  options.database_url = url_;
  options.size = size;
  options.prepared_statements = storage::AllPreparedStatements();
  return std::make_unique<storage::ConnectionPool>(options);
}

std::string TestDatabase::QueryValue(const std::string& sql) const {
  pqxx::connection conn(url_);
  pqxx::nontransaction txn(conn);
  pqxx::result result = txn.exec(sql);
  if (result.empty() || result[0][0].is_null()) return "";
  return result[0][0].as<std::string>();
}

long long TestDatabase::Count(const std::string& table_and_condition) const {
  return std::stoll(QueryValue(absl::StrCat("SELECT count(*) FROM ", table_and_condition)));
}

void TestDatabase::Exec(const std::string& sql) const {
  pqxx::connection conn(url_);
  pqxx::nontransaction txn(conn);
  txn.exec0(sql);
}

}  // namespace booking::testing
