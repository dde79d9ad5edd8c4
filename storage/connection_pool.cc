#include "storage/connection_pool.h"

#include <pthread.h>
#include <sys/socket.h>

#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <regex>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log_value.h"
#include "spdlog/spdlog.h"
#include "storage/pg_errors.h"

namespace booking::storage {

struct ConnectionPool::Slot {
  // Used only by the thread holding the checkout: null until opened, and after it broke.
  std::unique_ptr<pqxx::connection> conn;
  // The watchdog's view, guarded by the pool's mu_: the socket to cut (-1: none) and when.
  int fd = -1;
  absl::Time deadline = absl::InfiniteFuture();
  absl::Duration timeout;
  bool cut = false;
};

ConnectionPool::ConnectionPool(PoolOptions options) : options_(std::move(options)) {
  const int size = options_.size > 0 ? options_.size : 1;
  slots_.reserve(size);
  for (int i = 0; i < size; ++i) slots_.push_back(std::make_unique<Slot>());
  {
    common::MutexLock lock(mu_);
    for (auto& slot : slots_) idle_.push_back(slot.get());
  }
  if (options_.transaction_timeout > absl::ZeroDuration()) {
    watchdog_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "pg-watchdog");
      Watch();
    });
  }
}

ConnectionPool::~ConnectionPool() {
  {
    common::MutexLock lock(mu_);
    stopping_ = true;
  }
  stop_.NotifyAll();
  if (watchdog_.joinable()) watchdog_.join();
}

void ConnectionPool::Arm(Slot& slot, absl::Duration timeout) {
  common::MutexLock lock(mu_);
  slot.fd = slot.conn != nullptr ? slot.conn->sock() : -1;
  slot.timeout = timeout;
  slot.deadline = timeout > absl::ZeroDuration() ? absl::Now() + timeout : absl::InfiniteFuture();
  slot.cut = false;
}

void ConnectionPool::Disarm(Slot& slot) {
  common::MutexLock lock(mu_);
  slot.fd = -1;  // from here the socket may be closed, and its number reused
  slot.deadline = absl::InfiniteFuture();
}

void ConnectionPool::Watch() {
  common::MutexLock lock(mu_);
  while (!stopping_) {
    // A tenth of a second late at most; checking a handful of slots costs nothing.
    stop_.WaitFor(mu_, absl::Milliseconds(100));
    const absl::Time now = absl::Now();
    for (auto& slot : slots_) {
      if (slot->fd < 0 || slot->cut || slot->deadline > now) continue;
      // The thread blocked on this socket wakes with "connection closed" and reconnects later.
      ::shutdown(slot->fd, SHUT_RDWR);
      slot->cut = true;
      ++cuts_;
      spdlog::warn("postgres gave no answer within transaction_timeout={}: connection cut",
                   absl::FormatDuration(slot->timeout));
    }
  }
}

absl::StatusOr<ConnectionPool::Slot*> ConnectionPool::Acquire() {
  common::MutexLock lock(mu_);
  if (idle_.empty()) {
    ++waits_;
    auto has_idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !idle_.empty(); };
    if (!idle_changed_.AwaitFor(mu_, options_.acquire_timeout, has_idle)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "no database connection free within ", absl::FormatDuration(options_.acquire_timeout),
          " (pool size ", slots_.size(), ")"));
    }
  }
  Slot* slot = idle_.back();
  idle_.pop_back();
  return slot;
}

void ConnectionPool::Release(Slot* slot) {
  {
    common::MutexLock lock(mu_);
    idle_.push_back(slot);
  }
  idle_changed_.NotifyOne();
}

absl::Status ConnectionPool::Open(Slot& slot) {
  try {
    auto conn = std::make_unique<pqxx::connection>(
        WithNetworkTimeouts(WithConnectTimeout(options_.database_url, options_.connect_timeout),
                            options_.transaction_timeout));
    {
      common::MutexLock lock(mu_);
      slot.fd = conn->sock();  // the set-up statements below are bounded too
    }
    {
      pqxx::nontransaction setup(*conn);
      const std::string timeout_ms =
          std::to_string(absl::ToInt64Milliseconds(options_.statement_timeout));
      // A transaction left open by a crashed client must not hold locks for ever. JIT off: it
      // compiles any statement the planner thinks costly (a backlog count) for ~20 ms, which
      // short statements never win back.
      setup.exec_params(
          "SELECT set_config('statement_timeout', $1, false),"
          " set_config('idle_in_transaction_session_timeout', $2, false),"
          " set_config('jit', 'off', false)",
          timeout_ms, std::to_string(absl::ToInt64Milliseconds(options_.statement_timeout) * 6));
    }
    for (const auto& statement : options_.prepared_statements) {
      conn->prepare(statement.name, statement.sql);
    }
    slot.conn = std::move(conn);
  } catch (const std::exception& e) {
    Disarm(slot);  // before the connection, and its socket, close
    slot.conn.reset();
    return StatusFromPgException(e);
  }
  common::MutexLock lock(mu_);
  ++reconnects_;
  return absl::OkStatus();
}

absl::Status ConnectionPool::Transact(absl::FunctionRef<void(pqxx::transaction_base&)> fn) {
  return Execute<pqxx::work>(fn, options_.transaction_timeout);
}

absl::Status ConnectionPool::Transact(absl::FunctionRef<void(pqxx::transaction_base&)> fn,
                                      absl::Duration timeout) {
  return Execute<pqxx::work>(fn, timeout);
}

absl::Status ConnectionPool::Run(absl::FunctionRef<void(pqxx::transaction_base&)> fn) {
  return Execute<pqxx::nontransaction>(fn, options_.transaction_timeout);
}

template <typename Txn>
absl::Status ConnectionPool::Execute(absl::FunctionRef<void(pqxx::transaction_base&)> fn,
                                     absl::Duration timeout) {
  absl::StatusOr<Slot*> acquired = Acquire();
  if (!acquired.ok()) return acquired.status();
  Slot& slot = **acquired;
  absl::Status status;
  if (slot.conn != nullptr && !slot.conn->is_open()) slot.conn.reset();
  Arm(slot, timeout);
  if (slot.conn == nullptr) status = Open(slot);
  if (status.ok()) {
    try {
      Txn txn(*slot.conn);
      fn(txn);
      txn.commit();  // a no-op for nontransaction
    } catch (const std::exception& e) {
      status = StatusFromPgException(e);
      bool cut = false;
      {
        common::MutexLock lock(mu_);
        cut = slot.cut;
      }
      if (cut) {
        status = absl::UnavailableError(absl::StrCat("no answer from postgres within ",
                                                     absl::FormatDuration(timeout),
                                                     " (connection cut): ", status.message()));
      }
      // Lost while a statement or its commit was in flight: it may have committed.
      if (absl::IsUnavailable(status) && BreaksConnection(e)) status = MarkOutcomeUnknown(status);
      if (BreaksConnection(e)) {
        spdlog::warn("postgres connection dropped, reopening on next use error={}",
                     common::LogValue(status.message()));
        Disarm(slot);
        slot.conn.reset();
      }
    }
  }
  Disarm(slot);
  Release(&slot);
  return status;
}

absl::Status ConnectionPool::Ping() {
  return Run([](pqxx::transaction_base& txn) { txn.exec("SELECT 1"); });
}

absl::Status ConnectionPool::Warm() {
  std::vector<Slot*> taken;
  absl::Status status;
  for (size_t i = 0; i < slots_.size() && status.ok(); ++i) {
    absl::StatusOr<Slot*> slot = Acquire();
    if (!slot.ok()) {
      status = slot.status();
      break;
    }
    taken.push_back(*slot);
    if ((*slot)->conn == nullptr || !(*slot)->conn->is_open()) {
      (*slot)->conn.reset();
      Arm(**slot, options_.transaction_timeout);
      status = Open(**slot);
      Disarm(**slot);
    }
  }
  for (Slot* slot : taken) Release(slot);
  return status;
}

PoolStats ConnectionPool::stats() const {
  common::MutexLock lock(mu_);
  PoolStats stats;
  stats.size = static_cast<int>(slots_.size());
  stats.in_use = stats.size - static_cast<int>(idle_.size());
  for (const Slot* slot : idle_) stats.open += slot->conn != nullptr ? 1 : 0;
  stats.open += stats.in_use;  // a busy slot has, or is opening, a connection
  stats.waits = waits_;
  stats.reconnects = reconnects_;
  stats.cuts = cuts_;
  return stats;
}

std::string WithConnectTimeout(const std::string& url, absl::Duration timeout) {
  if (absl::StrContains(url, "connect_timeout")) return url;
  // libpq wants whole seconds, at least 2.
  const int64_t seconds = std::max<int64_t>(2, absl::ToInt64Seconds(timeout));
  if (absl::StrContains(url, "://")) {
    return absl::StrCat(url, absl::StrContains(url, "?") ? "&" : "?", "connect_timeout=", seconds);
  }
  return absl::StrCat(url, " connect_timeout=", seconds);
}

std::string WithNetworkTimeouts(const std::string& url, absl::Duration user_timeout) {
  std::vector<std::pair<std::string, std::string>> params = {{"keepalives", "1"},
                                                             {"keepalives_idle", "10"},
                                                             {"keepalives_interval", "5"},
                                                             {"keepalives_count", "3"}};
  if (user_timeout > absl::ZeroDuration()) {
    params.emplace_back("tcp_user_timeout",
                        std::to_string(absl::ToInt64Milliseconds(user_timeout)));
  }
  std::string out = url;
  const bool is_url = absl::StrContains(url, "://");
  for (const auto& [key, value] : params) {
    if (absl::StrContains(url, key)) continue;  // "keepalives" also guards keepalives_*
    if (is_url) {
      absl::StrAppend(&out, absl::StrContains(out, "?") ? "&" : "?", key, "=", value);
    } else {
      absl::StrAppend(&out, " ", key, "=", value);
    }
  }
  return out;
}

std::string RedactDatabaseUrl(const std::string& url) {
  static const std::regex kUrlPassword(R"((://[^:/@]*):[^@]*@)");
  static const std::regex kKeywordPassword(R"((password\s*=\s*)('[^']*'|\S+))");
  std::string out = std::regex_replace(url, kUrlPassword, "$1:***@");
  return std::regex_replace(out, kKeywordPassword, "$1***");
}

}  // namespace booking::storage
