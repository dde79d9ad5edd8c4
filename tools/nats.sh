#!/usr/bin/env bash
# A 3-node NATS JetStream cluster on loopback for trying the relay by hand (the tests start
# their own, on free ports: tests/support/nats_cluster.h).
#
#   tools/nats.sh start | stop | urls
#
# BOOKING_NATS_PORT  first client port (default 4222; the nodes use it and the next two, and
#                    the cluster routes the same ports + 2000)
# BOOKING_NATS_DIR   data and logs (default /tmp/booking-nats)
set -euo pipefail

PORT="${BOOKING_NATS_PORT:-4222}"
DIR="${BOOKING_NATS_DIR:-/tmp/booking-nats}"
NODES=3

die() { echo "nats.sh: $*" >&2; exit 1; }
[[ "$PORT" =~ ^[0-9]+$ ]] || die "BOOKING_NATS_PORT must be a number, got '$PORT'"
command -v nats-server >/dev/null || die "nats-server not installed (run tools/bootstrap.sh)"

urls() {
  local out=() i
  for ((i = 0; i < NODES; i++)); do out+=("nats://127.0.0.1:$((PORT + i))"); done
  (IFS=,; echo "${out[*]}")
}

start() {
  mkdir -p "$DIR"
  local i j routes
  for ((i = 0; i < NODES; i++)); do
    if [[ -f "$DIR/n$i.pid" ]] && kill -0 "$(cat "$DIR/n$i.pid")" 2>/dev/null; then continue; fi
    routes=()
    for ((j = 0; j < NODES; j++)); do
      ((j == i)) || routes+=("nats://127.0.0.1:$((PORT + 2000 + j))")
    done
    nats-server -js -sd "$DIR/n$i" -a 127.0.0.1 -p "$((PORT + i))" -n "n$i" \
      --cluster_name booking-dev --cluster "nats://127.0.0.1:$((PORT + 2000 + i))" \
      --routes "$(IFS=,; echo "${routes[*]}")" -l "$DIR/n$i.log" -P "$DIR/n$i.pid" \
      </dev/null >>"$DIR/n$i.log" 2>&1 &
    disown
  done
  # Bounded wait for every node to listen.
  for ((i = 0; i < 50; i++)); do
    local up=0
    for ((j = 0; j < NODES; j++)); do
      (exec 3<>"/dev/tcp/127.0.0.1/$((PORT + j))") 2>/dev/null && up=$((up + 1))
    done
    if ((up == NODES)); then
      # Listening, but ours? A node that found its port taken has exited (see its log).
      for ((j = 0; j < NODES; j++)); do
        kill -0 "$(cat "$DIR/n$j.pid" 2>/dev/null || echo 0)" 2>/dev/null ||
          die "node n$j is not running (port $((PORT + j)) taken?); see $DIR/n$j.log"
      done
      urls
      return
    fi
    sleep 0.2
  done
  die "the cluster did not start; see $DIR/n*.log"
}

stop() {
  local i pid pids=()
  for ((i = 0; i < NODES; i++)); do
    [[ -f "$DIR/n$i.pid" ]] || continue
    pid="$(cat "$DIR/n$i.pid")"
    kill "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$DIR/n$i.pid"
  done
  # Bounded wait until they have exited, so a start right after finds the ports free.
  for ((i = 0; i < 100 && ${#pids[@]} > 0; i++)); do
    local alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    pids=("${alive[@]}")
    ((${#pids[@]} == 0)) || sleep 0.1
  done
  ((${#pids[@]} == 0)) || die "nodes still running after 10 s: ${pids[*]}"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  urls) urls ;;
  *) echo "usage: $0 start | stop | urls" >&2; exit 2 ;;
esac
