#pragma once

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace pqxx {
class connection_base;
class transaction_base;
}  // namespace pqxx

namespace booking::storage {

struct PreparedStatement {
  std::string name;
  std::string sql;
};

struct PoolOptions {
  std::string database_url;
  int size = 8;
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration statement_timeout = absl::Seconds(5);
  // How long one checkout may hold its connection before the pool cuts the socket: the
  // client-side bound for a dead network. statement_timeout is enforced by the server, which a
  // dead network silences, and a frozen peer's kernel still acknowledges data and keepalives.
  // Also sets libpq's tcp_user_timeout. Zero: no bound.
  absl::Duration transaction_timeout = absl::Seconds(10);
  // How long a caller waits for a free connection before getting RESOURCE_EXHAUSTED.
  absl::Duration acquire_timeout = absl::Seconds(5);
  // Prepared on every connection the pool opens.
  std::vector<PreparedStatement> prepared_statements{};
};

struct PoolStats {
  int size = 0;
  int in_use = 0;
  int open = 0;
  long long waits = 0;       // checkouts that found no idle connection at first
  long long reconnects = 0;  // connections (re)opened
  long long cuts = 0;        // checkouts cut at their transaction_timeout
};

// A fixed number of PostgreSQL connections, handed out one per checkout, each checkout running
// exactly one transaction. Connections are opened lazily, get the statement timeout and the
// prepared statements on open, and are replaced after they break (e.g. pg_terminate_backend).
// Thread-safe.
class ConnectionPool {
  struct Slot;

 public:
  explicit ConnectionPool(PoolOptions options);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Runs `fn` inside one transaction and commits it when `fn` returns. libpqxx exceptions from
  // `fn` or the commit come back as statuses (see pg_errors.h); other exceptions propagate.
  [[nodiscard]] absl::Status Transact(absl::FunctionRef<void(pqxx::transaction_base&)> fn);
  // Same, bounded by `timeout` instead of the pool's transaction_timeout (migrations).
  [[nodiscard]] absl::Status Transact(absl::FunctionRef<void(pqxx::transaction_base&)> fn,
                                      absl::Duration timeout);

  // Like Transact, but in autocommit mode: for work that is ONE statement, atomic by itself. It
  // saves the BEGIN and COMMIT round trips, which under load are most of a short write's time.
  [[nodiscard]] absl::Status Run(absl::FunctionRef<void(pqxx::transaction_base&)> fn);

  // Opens every connection now, so start-up fails fast on a wrong URL.
  [[nodiscard]] absl::Status Warm();

  // One round trip (SELECT 1) on a connection of the pool, within its timeouts: OK when the
  // database answers.
  [[nodiscard]] absl::Status Ping();

  PoolStats stats() const;
  const PoolOptions& options() const { return options_; }

 private:
  template <typename Txn>
  [[nodiscard]] absl::Status Execute(absl::FunctionRef<void(pqxx::transaction_base&)> fn,
                                     absl::Duration timeout);
  [[nodiscard]] absl::StatusOr<Slot*> Acquire();
  void Release(Slot* slot);
  [[nodiscard]] absl::Status Open(Slot& slot);
  // The watchdog: cuts the socket of every checkout past its deadline.
  void Arm(Slot& slot, absl::Duration timeout);
  void Disarm(Slot& slot);
  void Watch();

  const PoolOptions options_;
  // booking::Mutex (a pthread mutex underneath) rather than absl::Mutex: Debian's Abseil is built
  // without ThreadSanitizer hooks, so TSan could not see absl::Mutex synchronisation.
  mutable common::Mutex mu_;
  common::CondVar idle_changed_;
  std::vector<std::unique_ptr<Slot>> slots_;  // fixed after construction
  std::vector<Slot*> idle_ ABSL_GUARDED_BY(mu_);
  long long waits_ ABSL_GUARDED_BY(mu_) = 0;
  long long reconnects_ ABSL_GUARDED_BY(mu_) = 0;
  long long cuts_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  common::CondVar stop_;
  std::thread watchdog_;  // runs only with a transaction_timeout
};

// Adds `connect_timeout` to a libpq URL or keyword/value string unless it has one already.
std::string WithConnectTimeout(const std::string& url, absl::Duration timeout);

// Adds what lets the kernel notice a dead network (unless the URL sets it already): TCP
// keepalives on idle connections (after 10 s idle, 3 probes 5 s apart) and, when `user_timeout`
// is positive, tcp_user_timeout (sent data unacknowledged that long breaks the connection).
std::string WithNetworkTimeouts(const std::string& url, absl::Duration user_timeout);

// Hides the password of a libpq URL or keyword/value string, for logs.
std::string RedactDatabaseUrl(const std::string& url);

}  // namespace booking::storage
