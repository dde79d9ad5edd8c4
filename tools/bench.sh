#!/usr/bin/env bash
# Service benchmarks on a private PostgreSQL: one table of figures from one run, each ingest
# figure also as a ratio to the baseline server (gRPC's own ceiling on this machine, same run).
#
#   tools/bench.sh            (BENCH_DURATION=10s BENCH_CONCURRENCY=64 BENCH_DRAIN_EVENTS=20000)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${BENCH_DURATION:-10s}"
CONCURRENCY="${BENCH_CONCURRENCY:-64}"
DRAIN_CALLS="${BENCH_DRAIN_EVENTS:-20000}"
PG_PORT="${BENCH_PG_PORT:-55434}"
export BOOKING_PG_PORT="$PG_PORT" BOOKING_PG_DIR="/tmp/booking-pg-bench-$PG_PORT"
BIN="$ROOT/build/bin"
LOGS="$(mktemp -d /tmp/booking-bench-XXXXXX)"

bash tools/bootstrap.sh >/dev/null
bash tools/build.sh --target booking-server baseline-server loadgen >/dev/null
bash tools/pg.sh start >/dev/null
psql_admin() { psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }
fresh_db() {  # fresh_db NAME: an empty database, echoes its URL
  psql_admin -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
  echo "postgresql://postgres@127.0.0.1:$PG_PORT/$1"
}

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# start_server LOG PORT ARGS...: starts booking-server on gRPC PORT, waits (bounded) until the
# port accepts connections (it opens after migrations), sets PID.
start_server() {
  local log="$1" port="$2"; shift 2
  "$BIN/booking-server" --log_level=warn --grpc_addr="127.0.0.1:$port" "$@" >"$log" 2>&1 &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$PID" 2>/dev/null || { cat "$log"; return 1; }
    sleep 0.1
  done
  echo "bench: server did not start" >&2; cat "$log"; return 1
}
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
peak_rss_mib() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
# field NAME: reads a number from the RESULT line on stdin.
field() { sed -n 's/.*"'"$1"'":\([0-9.]*\).*/\1/p'; }
loadgen() { "$BIN/loadgen" --duration="$DURATION" --concurrency="$CONCURRENCY" "$@" | tee -a "$LOGS/loadgen.txt" | grep '^RESULT'; }

echo "bench: logs in $LOGS; $CONCURRENCY calls in flight, $DURATION per figure" >&2

# 1. Baseline: the same service, nothing behind it.
"$BIN/baseline-server" --grpc_addr=127.0.0.1:50062 2>"$LOGS/baseline.log" &
BASE_PID=$!; pids+=("$BASE_PID")
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/50062) 2>/dev/null && break; sleep 0.1; done
BASE=$(loadgen --protocol=grpc --target=127.0.0.1:50062)
stop "$BASE_PID"

# 2. Ingest with the in-memory log.
start_server "$LOGS/memory.log" 50063 --event_log=memory --http_addr= \
  --database_url="$(fresh_db bench_memory)"
MEMORY=$(loadgen --protocol=grpc --target=127.0.0.1:50063)
stop "$PID"

# 3 and 4. Ingest with the durable log, over gRPC then REST; peak RSS over both.
start_server "$LOGS/durable.log" 50064 --http_addr=127.0.0.1:8094 \
  --database_url="$(fresh_db bench_durable)"
DURABLE=$(loadgen --protocol=grpc --target=127.0.0.1:50064)
REST=$(loadgen --protocol=http --target=127.0.0.1:8094)
RSS=$(peak_rss_mib "$PID")
stop "$PID"

# 5. Drain: events accepted by a server whose queue holds one event (the rest wait in the log),
# then a fresh server drains the backlog: StoreTickets, local receipts and local tracker rows.
DRAIN_URL="$(fresh_db bench_drain)"
start_server "$LOGS/fill.log" 50065 --http_addr= --queue_capacity=1 \
  --sweep_interval=1h --database_url="$DRAIN_URL"
"$BIN/loadgen" --protocol=grpc --target=127.0.0.1:50065 --concurrency="$CONCURRENCY" \
  --warmup=0s --duration=3s >"$LOGS/fill.txt"
stop "$PID"
EVENTS=$(psql_admin -d bench_drain -tAc "SELECT count(DISTINCT sequence) FROM deliveries")
start_server "$LOGS/drain.log" 50066 --http_addr= --database_url="$DRAIN_URL"
start_ns=$(date +%s%N)
for _ in $(seq 1 1200); do
  left=$(psql_admin -d bench_drain -tAc "SELECT count(*) FROM deliveries")
  [[ "$left" == 0 ]] && break
  sleep 0.1
done
DRAIN_SECONDS=$(awk -v a="$start_ns" -v b="$(date +%s%N)" 'BEGIN {printf "%.2f", (b-a)/1e9}')
stop "$PID"
DRAIN_RATE=$(awk -v e="$EVENTS" -v s="$DRAIN_SECONDS" 'BEGIN {printf "%.0f", e/s}')

# 6. PostgreSQL's own ceiling for the same ticket rows: batched multi-row inserts (1000 rows per
# statement, 20 statements, each committed), as fast as one connection can do them.
# The server's own migrations create the table.
start_server "$LOGS/ceiling.log" 50067 --http_addr= \
  --database_url="$(fresh_db bench_ceiling)"
stop "$PID"
statements=()
for batch in $(seq 0 19); do
  statements+=(-c "INSERT INTO tickets (ticket_id, price_amount, price_currency, customer_email,
    status, last_event_sequence)
    SELECT gen_random_uuid(), 49.90, 'EUR', 'load@example.com', 'confirmed', g
    FROM generate_series($((batch * 1000 + 1)), $((batch * 1000 + 1000))) g")
done
start_ns=$(date +%s%N)
psql_admin -d bench_ceiling "${statements[@]}" >/dev/null  # one session, one commit per statement
CEILING=$(awk -v a="$start_ns" -v b="$(date +%s%N)" 'BEGIN {printf "%.0f", 20000/((b-a)/1e9)}')

base_rate=$(field calls_per_sec <<<"$BASE")
ratio() { awk -v x="$1" -v y="$2" 'BEGIN {printf "%.2f", x/y}'; }
row() { printf '%-44s %14s %10s   %s\n' "$@"; }
echo
row "figure" "value" "ratio" "target"
row "baseline gRPC (calls/s)" "$base_rate" "1.00" "-"
row "gRPC ingest, in-memory log (calls/s)" "$(field calls_per_sec <<<"$MEMORY")" "$(ratio "$(field calls_per_sec <<<"$MEMORY")" "$base_rate")" ">= 0.9 x baseline"
row "gRPC ingest, durable log (calls/s)" "$(field calls_per_sec <<<"$DURABLE")" "$(ratio "$(field calls_per_sec <<<"$DURABLE")" "$base_rate")" ">= 0.6 x baseline"
row "  p50 / p99 (ms)" "$(awk -v a="$(field p50_us <<<"$DURABLE")" -v b="$(field p99_us <<<"$DURABLE")" 'BEGIN {printf "%.1f / %.1f", a/1000, b/1000}')" "" "(at full load)"
row "REST ingest, compatibility body (calls/s)" "$(field calls_per_sec <<<"$REST")" "$(ratio "$(field calls_per_sec <<<"$REST")" "$base_rate")" ">= 0.5 x baseline"
row "drain: 3 handlers, local tables (events/s)" "$DRAIN_RATE" "$(ratio "$DRAIN_RATE" "$CEILING")" ">= 0.5 x PostgreSQL ceiling"
row "PostgreSQL batched insert ceiling (rows/s)" "$CEILING" "1.00" "-"
row "server peak RSS, durable gRPC + REST (MiB)" "$RSS" "" "<= 256"
echo "(drain: $EVENTS events in ${DRAIN_SECONDS}s; baseline p99 $(awk -v a="$(field p99_us <<<"$BASE")" 'BEGIN {printf "%.1f", a/1000}') ms)"
