#!/usr/bin/env bash
# GET /tickets (the original API's whole list, streamed) over a table of BENCH_LIST_ROWS tickets
# (default 1,000,000): prints the rows and bytes served, the time, and the server's resident set
# before and at its peak while serving (sampled every 100 ms). Target: growth < 32 MiB.
#
#   tools/bench_list.sh   (BENCH_LIST_ROWS=1000000)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROWS="${BENCH_LIST_ROWS:-1000000}"
PG_PORT="${BENCH_PG_PORT:-55434}"
export BOOKING_PG_PORT="$PG_PORT" BOOKING_PG_DIR="/tmp/booking-pg-bench-$PG_PORT"
BIN="$ROOT/build/bin"
LOG="$(mktemp /tmp/booking-bench-list-XXXXXX.log)"

bash tools/bootstrap.sh >/dev/null
bash tools/build.sh --target booking-server >/dev/null
bash tools/pg.sh start >/dev/null
psql_admin() { psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }
psql_admin -d postgres -c "DROP DATABASE IF EXISTS bench_list WITH (FORCE)" -c "CREATE DATABASE bench_list" >/dev/null
URL="postgresql://postgres@127.0.0.1:$PG_PORT/bench_list"

GRPC_PORT=50071 HTTP_PORT=8097
start_server() {
  "$BIN/booking-server" --log_level=warn --grpc_addr="127.0.0.1:$GRPC_PORT" \
    --http_addr="127.0.0.1:$HTTP_PORT" --database_url="$URL" >>"$LOG" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$PID" 2>/dev/null || { cat "$LOG"; return 1; }
    sleep 0.1
  done
  echo "bench_list: server did not start" >&2; return 1
}
trap 'kill "$PID" 2>/dev/null || true' EXIT

start_server  # runs the migrations
kill -TERM "$PID"; wait "$PID" || true
psql_admin -d bench_list -c "INSERT INTO tickets (ticket_id, price_amount, price_currency,
  customer_email, status, last_event_sequence)
  SELECT gen_random_uuid(), 49.90, 'EUR', 'list' || g || '@example.com', 'confirmed', g
  FROM generate_series(1, $ROWS) g" -c "VACUUM ANALYZE tickets" >/dev/null

start_server
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
BEFORE=$(rss)
PEAK=$BEFORE
start_ns=$(date +%s%N)
curl -s --no-buffer "http://127.0.0.1:$HTTP_PORT/tickets" |
  tee >(wc -c >"$LOG.bytes") | grep -o '"ticket_id"' | wc -l >"$LOG.rows" &
CURL=$!
while kill -0 "$CURL" 2>/dev/null; do
  now=$(rss); ((now > PEAK)) && PEAK=$now
  sleep 0.1
done
wait "$CURL"
SECONDS_TAKEN=$(awk -v a="$start_ns" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b-a)/1e9}')
sleep 0.2
SERVED=$(cat "$LOG.rows"); BYTES=$(cat "$LOG.bytes")
printf 'GET /tickets: %s of %s rows, %.0f MiB in %s s (%.0f rows/s)\n' "$SERVED" "$ROWS" \
  "$(awk -v b="$BYTES" 'BEGIN {print b/1048576}')" "$SECONDS_TAKEN" \
  "$(awk -v r="$SERVED" -v s="$SECONDS_TAKEN" 'BEGIN {print r/s}')"
printf 'server RSS: %.1f MiB before, %.1f MiB at the peak: +%.1f MiB (target < 32)\n' \
  "$(awk -v k="$BEFORE" 'BEGIN {print k/1024}')" "$(awk -v k="$PEAK" 'BEGIN {print k/1024}')" \
  "$(awk -v a="$BEFORE" -v b="$PEAK" 'BEGIN {print (b-a)/1024}')"
[[ "$SERVED" == "$ROWS" ]] || { echo "bench_list: served $SERVED rows, expected $ROWS" >&2; exit 1; }
