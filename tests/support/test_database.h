#pragma once

#include <memory>
#include <string>

#include "storage/connection_pool.h"

namespace booking::testing {

// The PostgreSQL server the test script started: BOOKING_TEST_DATABASE_URL, a URL to its
// maintenance database. Tests fail (never skip) when it is not set.
std::string AdminDatabaseUrl();

// A database of its own for one test: created empty on construction, dropped (with any
// connections left) on destruction.
class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

  // A small pool on this database with every repository's statements prepared.
  std::unique_ptr<storage::ConnectionPool> MakePool(int size = 4) const;

  // Runs a query and returns the first column of the first row as text ("" for no row).
  std::string QueryValue(const std::string& sql) const;
  long long Count(const std::string& table_and_condition) const;
  void Exec(const std::string& sql) const;

 private:
  std::string name_;
  std::string url_;
};

}  // namespace booking::testing
