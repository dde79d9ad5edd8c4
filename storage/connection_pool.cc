#include "storage/connection_pool.h"

#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <regex>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "storage/pg_errors.h"

namespace booking::storage {

struct ConnectionPool::Slot {
  std::unique_ptr<pqxx::connection> conn;  // null until opened, and after it broke
};

ConnectionPool::ConnectionPool(PoolOptions options) : options_(std::move(options)) {
  const int size = options_.size > 0 ? options_.size : 1;
  slots_.reserve(size);
  for (int i = 0; i < size; ++i) slots_.push_back(std::make_unique<Slot>());
  std::lock_guard lock(mu_);
  for (auto& slot : slots_) idle_.push_back(slot.get());
}

ConnectionPool::~ConnectionPool() = default;

absl::StatusOr<ConnectionPool::Slot*> ConnectionPool::Acquire() {
  std::unique_lock lock(mu_);
  if (idle_.empty()) {
    ++waits_;
    if (!idle_changed_.wait_for(lock, absl::ToChronoNanoseconds(options_.acquire_timeout),
                                [this] { return !idle_.empty(); })) {
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
    std::lock_guard lock(mu_);
    idle_.push_back(slot);
  }
  idle_changed_.notify_one();
}

absl::Status ConnectionPool::Open(Slot& slot) {
  try {
    auto conn = std::make_unique<pqxx::connection>(
        WithConnectTimeout(options_.database_url, options_.connect_timeout));
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
    slot.conn.reset();
    return StatusFromPgException(e);
  }
  std::lock_guard lock(mu_);
  ++reconnects_;
  return absl::OkStatus();
}

absl::Status ConnectionPool::Transact(absl::FunctionRef<void(pqxx::transaction_base&)> fn) {
  return Execute<pqxx::work>(fn);
}

absl::Status ConnectionPool::Run(absl::FunctionRef<void(pqxx::transaction_base&)> fn) {
  return Execute<pqxx::nontransaction>(fn);
}

template <typename Txn>
absl::Status ConnectionPool::Execute(absl::FunctionRef<void(pqxx::transaction_base&)> fn) {
  absl::StatusOr<Slot*> acquired = Acquire();
  if (!acquired.ok()) return acquired.status();
  Slot& slot = **acquired;
  absl::Status status;
  if (slot.conn == nullptr || !slot.conn->is_open()) status = Open(slot);
  if (status.ok()) {
    try {
      Txn txn(*slot.conn);
      fn(txn);
      txn.commit();  // a no-op for nontransaction
    } catch (const std::exception& e) {
      status = StatusFromPgException(e);
      // Lost while a statement or its commit was in flight: it may have committed.
      if (absl::IsUnavailable(status) && BreaksConnection(e)) status = MarkOutcomeUnknown(status);
      if (BreaksConnection(e)) {
        spdlog::warn("postgres connection dropped, reopening on next use: {}",
                     std::string(status.message()));
        slot.conn.reset();
      }
    }
  }
  Release(&slot);
  return status;
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
    if ((*slot)->conn == nullptr || !(*slot)->conn->is_open()) status = Open(**slot);
  }
  for (Slot* slot : taken) Release(slot);
  return status;
}

PoolStats ConnectionPool::stats() const {
  std::lock_guard lock(mu_);
  PoolStats stats;
  stats.size = static_cast<int>(slots_.size());
  stats.in_use = stats.size - static_cast<int>(idle_.size());
  for (const Slot* slot : idle_) stats.open += slot->conn != nullptr ? 1 : 0;
  stats.open += stats.in_use;  // a busy slot has, or is opening, a connection
  stats.waits = waits_;
  stats.reconnects = reconnects_;
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

std::string RedactDatabaseUrl(const std::string& url) {
  static const std::regex kUrlPassword(R"((://[^:/@]*):[^@]*@)");
  static const std::regex kKeywordPassword(R"((password\s*=\s*)('[^']*'|\S+))");
  std::string out = std::regex_replace(url, kUrlPassword, "$1:***@");
  return std::regex_replace(out, kKeywordPassword, "$1***");
}

}  // namespace booking::storage
