#!/usr/bin/env bash
# The real booking-server against receipts and spreadsheets APIs that answer after 250 ms
# (build/bin/fake-apis, the tests' fakes as a process), under a steady gRPC load: for each
# --api_concurrency in BENCH_SLOW_CONCURRENCY, one row of the calls in flight at the fakes
# (peak), the server's threads (idle and peak, /proc/PID/status Threads), its resident set
# (peak VmRSS while sampled, and VmHWM), the receipts IssueReceipt got issued per second and the
# server's CPU per receipt.
#
#   tools/bench_slow_apis.sh   (BENCH_SLOW_DURATION=30s BENCH_SLOW_RATE=100 BENCH_SLOW_TICKETS=2
#                               BENCH_SLOW_CONCURRENCY="32 256" BENCH_SLOW_DELAY=250ms
#                               BENCH_SERVER=build/bin/booking-server BENCH_DATABASE_URL=...)
#
# BENCH_DATABASE_URL: a PostgreSQL server to make the run's databases on (e.g. the tests'
# cluster); without it, the bench's private cluster (tools/pg.sh, port 55434) is started.
# BENCH_SERVER: the binary to measure, e.g. one built at an older commit, for a before/after
# with the same script. The first BENCH_SLOW_WARMUP (5 s) of load are not counted.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${BENCH_SLOW_DURATION:-30s}"
WARMUP="${BENCH_SLOW_WARMUP:-5}"
RATE="${BENCH_SLOW_RATE:-100}"
TICKETS="${BENCH_SLOW_TICKETS:-2}"
CONCURRENCIES="${BENCH_SLOW_CONCURRENCY:-32 256}"
DELAY="${BENCH_SLOW_DELAY:-250ms}"
BIN="$ROOT/build/bin"
SERVER="${BENCH_SERVER:-$BIN/booking-server}"
LOGS="$(mktemp -d /tmp/booking-bench-slow-XXXXXX)"

bash tools/build.sh --target fake-apis loadgen $([[ -n "${BENCH_SERVER:-}" ]] || echo booking-server) \
  >"$LOGS/build.log"
if [[ -n "${BENCH_DATABASE_URL:-}" ]]; then
  ADMIN_URL="$BENCH_DATABASE_URL"
else
  PG_PORT="${BENCH_PG_PORT:-55434}"
  export BOOKING_PG_PORT="$PG_PORT" BOOKING_PG_DIR="/tmp/booking-pg-bench-$PG_PORT"
  bash tools/pg.sh start >/dev/null
  ADMIN_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
fi
DB_PREFIX="bench_slow_$$"
export PGOPTIONS="--client-min-messages=warning"
fresh_db() {  # fresh_db NAME: an empty database on ADMIN_URL's server, echoes its URL
  psql -q -v ON_ERROR_STOP=1 "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
    -c "CREATE DATABASE $1" >/dev/null
  echo "${ADMIN_URL%/*}/$1"
}

pids=()
dbs=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for db in "${dbs[@]}"; do
    psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

status_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
threads() { awk '$1 == "Threads:" {print $2}' "/proc/$1/status"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# fake_field NAME: the value of NAME= in the fakes' latest figures line.
fake_field() { tail -n 1 "$FAKE_OUT" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# run CONCURRENCY: one row of the table.
run() {
  local concurrency="$1" db url port=50081 fake_in pid
  db="${DB_PREFIX}_$concurrency"; dbs+=("$db"); url="$(fresh_db "$db")"
  # The fakes run until their stdin (a FIFO held open by this script) closes.
  fake_in="$LOGS/fake-$concurrency.in"; FAKE_OUT="$LOGS/fake-$concurrency.out"
  mkfifo "$fake_in"
  "$BIN/fake-apis" --answer_delay="$DELAY" <"$fake_in" >"$FAKE_OUT" 2>&1 &
  pids+=($!)
  exec 9>"$fake_in"
  for _ in $(seq 1 100); do [[ -s "$FAKE_OUT" ]] && break; sleep 0.1; done
  local receipts_url spreadsheets_url
  receipts_url="$(head -n 1 "$FAKE_OUT" | tr ' ' '\n' | sed -n 's/^receipts_url=//p')"
  spreadsheets_url="$(head -n 1 "$FAKE_OUT" | tr ' ' '\n' | sed -n 's/^spreadsheets_url=//p')"
  "$SERVER" --log_level=warn --grpc_addr="127.0.0.1:$port" --http_addr= --database_url="$url" \
    --receipts_url="$receipts_url" --spreadsheets_url="$spreadsheets_url" \
    --api_concurrency="$concurrency" >"$LOGS/server-$concurrency.log" 2>&1 &
  pid=$!; pids+=("$pid")
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$LOGS/server-$concurrency.log"; return 1; }
    sleep 0.1
  done
  sleep 1
  local idle_threads idle_rss peak_threads peak_rss
  idle_threads="$(threads "$pid")"; idle_rss="$(status_kib "$pid" VmRSS)"
  peak_threads="$idle_threads"; peak_rss="$idle_rss"
  "$BIN/loadgen" --protocol=grpc --target="127.0.0.1:$port" --rate="$RATE" --concurrency=64 \
    --tickets_per_call="$TICKETS" --warmup=0s --duration="$DURATION" >"$LOGS/loadgen-$concurrency.txt" &
  local load=$! t0 r0 c0 t1 r1 c1 samples=0
  sleep "$WARMUP"
  t0="$(date +%s%N)"; r0="$(fake_field receipts)"; c0="$(ticks "$pid")"
  t1="$t0"; r1="$r0"; c1="$c0"
  while kill -0 "$load" 2>/dev/null && ((samples < 100000)); do
    ((samples += 1))
    local t r
    t="$(threads "$pid")"; r="$(status_kib "$pid" VmRSS)"
    ((t > peak_threads)) && peak_threads="$t"
    ((r > peak_rss)) && peak_rss="$r"
    # The window ends at the last sample taken while the load still ran.
    t1="$(date +%s%N)"; r1="$(fake_field receipts)"; c1="$(ticks "$pid")"
    sleep 0.5
  done
  wait "$load" || true
  local hwm receipts_peak sheets_peak ok
  hwm="$(status_kib "$pid" VmHWM)"
  receipts_peak="$(fake_field receipts_peak)"; sheets_peak="$(fake_field sheets_peak)"
  ok="$(sed -n 's/.*"ok":\([0-9]*\).*/\1/p' "$LOGS/loadgen-$concurrency.txt")"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  exec 9>&-
  awk -v c="$concurrency" -v rp="$receipts_peak" -v sp="$sheets_peak" -v it="$idle_threads" \
    -v pt="$peak_threads" -v ir="$idle_rss" -v pr="$peak_rss" -v hwm="$hwm" -v r0="$r0" \
    -v r1="$r1" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" \
    -v ok="$ok" -v tickets="$TICKETS" 'BEGIN {
      s = (t1 - t0) / 1e9; n = r1 - r0
      printf "%-6s %12s %12s %18s %10.0f %12.0f %10s %8s\n", c, rp " / " sp, it " / " pt,
        sprintf("%.0f / %.0f / %.0f", ir / 1024, pr / 1024, hwm / 1024),
        (s > 0 ? n / s : 0), (n > 0 ? (c1 - c0) * 1e6 / hz / n : 0), ok * tickets,
        sprintf("%.0f", s) }'
}

echo "bench_slow_apis: logs in $LOGS; server $SERVER" >&2
echo "APIs answering after $DELAY; load $RATE calls/s x $TICKETS tickets for $DURATION" \
  "(first ${WARMUP}s not counted)"
echo "columns: --api_concurrency; calls in flight at the receipts / sheets fakes (peak);" \
  "server threads idle / peak; VmRSS idle / peak and VmHWM (MiB); receipts issued per second;" \
  "server CPU per receipt (us); tickets acknowledged; seconds counted"
printf "%-6s %12s %12s %18s %10s %12s %10s %8s\n" "api" "in flight" "threads" "RSS idle/pk/HWM" \
  "rcpt/s" "CPU us/rcpt" "tickets" "window"
for concurrency in $CONCURRENCIES; do run "$concurrency"; done
