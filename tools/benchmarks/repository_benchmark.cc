// Batch writes to the PostgreSQL repositories, the statements the handlers run: rows per second
// for batches of 1, 16 and 256 records, each batch one transaction. Needs a database:
//   BOOKING_BENCH_DATABASE_URL=postgresql://... build/bin/repository_benchmark
// (tools/bench.sh runs it against its private PostgreSQL; the tables are emptied first).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/uuid.h"
#include "storage/connection_pool.h"
#include "storage/migrations.h"
#include "storage/pg_receipt_repository.h"
#include "storage/pg_statements.h"
#include "storage/pg_ticket_repository.h"
#include "storage/pg_tracker_repository.h"

namespace booking::benchmarks {
namespace {

storage::ConnectionPool* Pool() {
  static storage::ConnectionPool* pool = [] {
    const char* url = std::getenv("BOOKING_BENCH_DATABASE_URL");
    if (url == nullptr || *url == '\0') {
      std::fprintf(stderr, "repository_benchmark: set BOOKING_BENCH_DATABASE_URL\n");
      std::exit(2);
    }
    auto* created = new storage::ConnectionPool(
        {.database_url = url, .size = 1, .prepared_statements = storage::AllPreparedStatements()});
    if (auto migrated = storage::Migrate(*created); !migrated.ok()) {
      std::fprintf(stderr, "repository_benchmark: %s\n", migrated.status().ToString().c_str());
      std::exit(2);
    }
    const absl::Status emptied = created->Transact(
        [](pqxx::transaction_base& tx) { tx.exec0("TRUNCATE tickets, receipts, tracker_rows"); });
    if (!emptied.ok()) std::exit(2);
    return created;
  }();
  return pool;
}

// Fails the benchmark run loudly: a figure from failed writes would be meaningless.
void Check(benchmark::State& state, const absl::Status& status) {
  if (!status.ok()) state.SkipWithError(status.ToString().c_str());
}

void BM_TicketUpsert(benchmark::State& state) {
  storage::PgTicketRepository repository(*Pool());
  std::vector<domain::Ticket> batch(static_cast<size_t>(state.range(0)));
  int64_t sequence = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (domain::Ticket& record : batch) {
      record.ticket_id = common::NewUuid();
      record.customer_email = "load@example.com";
      record.price_amount = "49.90";
      record.price_currency = "EUR";
      record.status = "confirmed";
      record.last_event_sequence = ++sequence;
    }
    state.ResumeTiming();
    Check(state, repository.Upsert(batch));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_TicketUpsert)->Arg(1)->Arg(16)->Arg(256)->UseRealTime();

void BM_ReceiptIssue(benchmark::State& state) {
  storage::PgReceiptRepository repository(*Pool());
  std::vector<domain::ReceiptRequest> batch(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    state.PauseTiming();
    for (domain::ReceiptRequest& record : batch) {
      record = {.idempotency_key = common::NewUuid(),
                .ticket_id = common::NewUuid(),
                .price_amount = "49.90",
                .price_currency = "EUR",
                .correlation_id = "bench"};
    }
    state.ResumeTiming();
    Check(state, repository.IssueAll(batch));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ReceiptIssue)->Arg(1)->Arg(16)->Arg(256)->UseRealTime();

void BM_TrackerAppend(benchmark::State& state) {
  storage::PgTrackerRepository repository(*Pool());
  std::vector<domain::TrackerRow> batch(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    state.PauseTiming();
    for (domain::TrackerRow& record : batch) {
      record = {.event_id = common::NewUuid(),
                .ticket_id = common::NewUuid(),
                .customer_email = "load@example.com",
                .price_amount = "49.90",
                .price_currency = "EUR",
                .correlation_id = "bench"};
    }
    state.ResumeTiming();
    Check(state, repository.AppendAll("tickets-to-print", batch));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_TrackerAppend)->Arg(1)->Arg(16)->Arg(256)->UseRealTime();

}  // namespace
}  // namespace booking::benchmarks

BENCHMARK_MAIN();
