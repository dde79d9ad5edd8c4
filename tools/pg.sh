#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests (loopback only, trust auth).
#
#   tools/pg.sh start | stop | status | url | psql [psql args...]
#   tools/pg.sh standby PRIMARY_PORT   a streaming standby of the cluster on PRIMARY_PORT (its
#                                      copy made by pg_basebackup on the first start), started
#   tools/pg.sh promote | crash        the standby becomes a primary | stop at once, as a crash
#                                      (immediate mode: no shutdown checkpoint)
#
# BOOKING_PG_PORT  port (default 55432; tools/test.sh uses 55433)
# BOOKING_PG_DIR   data folder (default /tmp/booking-pg-$PORT). Deliberately outside the repo:
#                  a clone may live in a mode-700 root-owned folder that the unprivileged server
#                  user cannot traverse.
set -euo pipefail

PORT="${BOOKING_PG_PORT:-55432}"
DIR="${BOOKING_PG_DIR:-/tmp/booking-pg-$PORT}"
DIR="${DIR%/}"
[[ "$DIR" = /* ]] || DIR="$PWD/$DIR" # relative to the caller's cwd, resolved before the cd below

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DB=booking
URL="postgresql://postgres@127.0.0.1:$PORT/$DB"
LOGFILE="$DIR/server.log"
START_TIMEOUT=30 # seconds to wait for the server to accept connections
STOP_TIMEOUT=30

die() { echo "pg.sh: $*" >&2; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] || die "BOOKING_PG_PORT must be a number, got '$PORT'"

# Highest installed major version wins (Debian installs them side by side).
find_pgbin() {
  local d
  d="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  [[ -n "$d" && -x "$d/pg_ctl" ]] || die "no PostgreSQL server under /usr/lib/postgresql (run tools/bootstrap.sh)"
  echo "$d"
}

# PostgreSQL refuses to run as root, so as root we run it as an unprivileged user.
pick_user() {
  if ((EUID != 0)); then
    id -un
  elif id postgres >/dev/null 2>&1; then
    echo postgres
  else
    id booking-pg >/dev/null 2>&1 ||
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin booking-pg
    echo booking-pg
  fi
}

# Runs a command as the cluster owner. cd / first: the caller's cwd (e.g. a mode-700 clone)
# may be unreadable for that user, and initdb/pg_ctl fail if they cannot resolve their cwd.
# 9<&- keeps the start/stop lock (fd 9) from being inherited by the long-lived postmaster.
as_owner() {
  if ((EUID == 0)); then
    (cd / && runuser -u "$PGUSER" -- "$@" 9<&-)
  else
    (cd / && "$@" 9<&-)
  fi
}

PSQL_ARGS=(-X -h 127.0.0.1 -p "$PORT" -U postgres)

# True when postmaster.pid names a live postgres process (pg_ctl only checks that the pid
# exists, which is wrong after a reboot/container restart when the pid has been reused).
# A killed postmaster may linger briefly as a zombie: that counts as dead.
is_postgres_pid() {
  local pid="$1" stat
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat="$(cat "/proc/$pid/stat" 2>/dev/null || true)"
  [[ "$stat" == "$pid (postgres) "* ]] || return 1
  [[ "${stat#*) }" != [ZX]* ]]
}
postmaster_alive() { is_postgres_pid "$(head -n 1 "$DIR/postmaster.pid" 2>/dev/null || true)"; }

is_ready() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -t 2 >/dev/null 2>&1; }

# Refuses data folders this script cannot safely use, with a message saying what to do.
check_datadir() {
  [[ -e "$DIR" ]] || return 0
  [[ -d "$DIR" ]] || die "$DIR exists and is not a directory"
  local owner
  owner="$(stat -c %U "$DIR")"
  [[ -r "$DIR" && -x "$DIR" ]] ||
    die "$DIR belongs to '$owner' and '$(id -un)' cannot read it; use another BOOKING_PG_PORT or BOOKING_PG_DIR"
  if [[ ! -f "$DIR/PG_VERSION" ]]; then
    # An empty folder is fine (initdb accepts it); anything else is not ours.
    if [[ -n "$(ls -A "$DIR" 2>/dev/null)" ]]; then
      die "$DIR is not empty and is not a PostgreSQL data folder; remove it or set BOOKING_PG_DIR"
    fi
    [[ "$owner" == "$PGUSER" ]] || ((EUID == 0)) ||
      die "$DIR is owned by '$owner', not '$PGUSER'; remove it or set BOOKING_PG_DIR"
    return 0
  fi
  [[ "$owner" == "$PGUSER" ]] ||
    die "$DIR was created by user '$owner' but the server would run as '$PGUSER';" \
      "remove it (rm -rf $DIR) or set BOOKING_PG_DIR / BOOKING_PG_PORT"
  local have want
  have="$(cat "$DIR/PG_VERSION")"
  want="$(basename "$(dirname "$PGBIN")")"
  [[ "$have" == "$want" ]] ||
    die "$DIR was created by PostgreSQL $have but the installed server is $want;" \
      "remove it (rm -rf $DIR) or set BOOKING_PG_DIR"
}

# Serializes start/stop of the same cluster (e.g. run.sh and test.sh started together).
# The lock file lives next to the data folder: initdb wants an empty folder.
take_lock() {
  local lock="$DIR.lock"
  if (set -C; : >"$lock") 2>/dev/null; then chmod 644 "$lock"; fi
  exec 9<"$lock" || die "cannot open lock file $lock"
  flock -w 60 9 || die "timed out waiting for $lock (another pg.sh start/stop?)"
}

init_cluster() {
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  ((EUID != 0)) || chown "$PGUSER:" "$DIR"
  echo "pg.sh: initdb $DIR (as $PGUSER)" >&2
  # trust auth is acceptable: the cluster listens on 127.0.0.1 and a socket in a 700 folder only.
  as_owner "$PGBIN/initdb" -D "$DIR" --auth=trust -U postgres --encoding=UTF8 --no-locale \
    >"$DIR.initdb.log" 2>&1 || { tail -n 30 "$DIR.initdb.log" >&2; die "initdb failed"; }
  rm -f "$DIR.initdb.log"
  # Our settings live in booking.conf (rewritten on every start, so a changed port is picked up).
  echo "include_if_exists = 'booking.conf'" | as_owner tee -a "$DIR/postgresql.conf" >/dev/null
}

write_conf() {
  # Unix socket paths are limited to ~107 bytes; fail clearly instead of a cryptic server error.
  ((${#DIR} + 20 < 107)) || die "BOOKING_PG_DIR path too long for a unix socket: $DIR"
  as_owner tee "$DIR/booking.conf" >/dev/null <<EOF
# Written by tools/pg.sh on every start; edit that script, not this file.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
max_connections = 200
# tools/bench.sh sets a production-like size; the tests' small cluster keeps the default.
shared_buffers = ${BOOKING_PG_SHARED_BUFFERS:-128MB}
# fsync stays on: the tests check durability.
fsync = on
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 1000
EOF
  # tools/bench.sh measures PostgreSQL time per statement (takes effect on a fresh start).
  if [[ "${BOOKING_PG_STAT_STATEMENTS:-0}" == 1 ]]; then
    echo "shared_preload_libraries = 'pg_stat_statements'" | as_owner tee -a "$DIR/booking.conf" >/dev/null
  fi
}

# Removes lock files left by a postmaster that no longer exists (crash, container restart).
clear_stale_locks() {
  if [[ -f "$DIR/postmaster.pid" ]] && ! postmaster_alive; then
    echo "pg.sh: removing stale $DIR/postmaster.pid" >&2
    rm -f "$DIR/postmaster.pid"
  fi
  local sock_lock="$DIR/.s.PGSQL.$PORT.lock" pid
  if [[ -f "$sock_lock" ]]; then
    pid="$(head -n 1 "$sock_lock" 2>/dev/null || true)"
    if ! is_postgres_pid "$pid"; then
      rm -f "$sock_lock" "$DIR/.s.PGSQL.$PORT"
    fi
  fi
}

ensure_db() {
  local exists
  exists="$("$PGBIN/psql" "${PSQL_ARGS[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ||
    die "cannot query the server on port $PORT"
  if [[ "$exists" != 1 ]]; then
    # A concurrent start may create it first; only fail if it still does not exist.
    "$PGBIN/psql" "${PSQL_ARGS[@]}" -d postgres -qc "CREATE DATABASE $DB" >/dev/null 2>&1 ||
      [[ "$("$PGBIN/psql" "${PSQL_ARGS[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" == 1 ]] ||
      die "could not create database $DB"
  fi
}

start_server() {
  [[ -f "$DIR/PG_VERSION" ]] || init_cluster
  write_conf
  clear_stale_locks
  if is_ready; then
    die "something else is already listening on 127.0.0.1:$PORT; set BOOKING_PG_PORT"
  fi
  # -W: do not let pg_ctl wait; our own bounded loop below also notices an early exit.
  as_owner "$PGBIN/pg_ctl" start -W -D "$DIR" -l "$LOGFILE" -s >/dev/null ||
    { tail -n 30 "$LOGFILE" >&2 2>/dev/null || true; die "pg_ctl start failed"; }
  local i
  for ((i = 0; i < START_TIMEOUT * 2; i++)); do
    is_ready && return 0
    if ((i > 4)) && ! postmaster_alive; then
      tail -n 30 "$LOGFILE" >&2 || true
      die "server exited during start-up; log: $LOGFILE"
    fi
    sleep 0.5
  done
  tail -n 30 "$LOGFILE" >&2 || true
  die "server not ready after ${START_TIMEOUT}s; log: $LOGFILE"
}

cmd_start() {
  take_lock
  check_datadir
  # Already running (idempotent start): wait in case it is still starting up or shutting down.
  local i
  for ((i = 0; i < START_TIMEOUT * 2; i++)); do
    postmaster_alive || break
    is_ready && break
    sleep 0.5
  done
  if ! is_ready; then
    postmaster_alive && die "postmaster is running in $DIR but not accepting connections on port $PORT; see $LOGFILE"
    start_server
  fi
  ensure_db
  echo "$URL"
}

cmd_stop() {
  take_lock
  if [[ ! -f "$DIR/PG_VERSION" ]] || ! postmaster_alive; then
    echo "pg.sh: not running ($DIR)"
    [[ ! -f "$DIR/PG_VERSION" ]] || clear_stale_locks
    return 0
  fi
  check_datadir
  as_owner "$PGBIN/pg_ctl" stop -D "$DIR" -m fast -w -t "$STOP_TIMEOUT" -s ||
    die "pg_ctl stop failed; log: $LOGFILE"
  echo "pg.sh: stopped ($DIR)"
}

cmd_standby() {
  local primary="$1"
  [[ "$primary" =~ ^[0-9]+$ ]] || die "standby: PRIMARY_PORT must be a number, got '$primary'"
  take_lock
  check_datadir
  if [[ ! -f "$DIR/PG_VERSION" ]]; then
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    ((EUID != 0)) || chown "$PGUSER:" "$DIR"
    # -R writes primary_conninfo and standby.signal; application_name names it for
    # synchronous_standby_names on the primary.
    as_owner "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$primary" -U postgres -D "$DIR" -R \
      -X stream --checkpoint=fast -d "application_name=standby_$PORT" \
      >"$DIR.basebackup.log" 2>&1 || { tail -n 30 "$DIR.basebackup.log" >&2; die "pg_basebackup failed"; }
    rm -f "$DIR.basebackup.log"
  fi
  start_server
  echo "$URL"
}

cmd_promote() {
  as_owner "$PGBIN/pg_ctl" promote -D "$DIR" -w -t "$STOP_TIMEOUT" -s || die "pg_ctl promote failed"
  echo "pg.sh: promoted ($DIR)"
}

cmd_crash() {
  postmaster_alive || { echo "pg.sh: not running ($DIR)"; return 0; }
  as_owner "$PGBIN/pg_ctl" stop -D "$DIR" -m immediate -w -t "$STOP_TIMEOUT" -s ||
    die "pg_ctl stop -m immediate failed"
  echo "pg.sh: crashed ($DIR)"
}

cmd_status() {
  if [[ -f "$DIR/PG_VERSION" ]] && postmaster_alive && is_ready; then
    echo "pg.sh: running on 127.0.0.1:$PORT ($DIR)"
  else
    echo "pg.sh: not running on 127.0.0.1:$PORT ($DIR)"
    return 3
  fi
}

usage() {
  echo "usage: $0 start|stop|status|url|psql [psql args...]|standby PRIMARY_PORT|promote|crash" >&2
  exit 2
}

(($# >= 1)) || usage
action="$1"
shift
case "$action" in
  url) echo "$URL"; exit 0 ;;
esac

PGBIN="$(find_pgbin)"
PGUSER="$(pick_user)"

case "$action" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  standby) (($# == 1)) || usage; cmd_standby "$1" ;;
  promote) cmd_promote ;;
  crash) cmd_crash ;;
  psql) exec "$PGBIN/psql" "${PSQL_ARGS[@]}" -d "$DB" "$@" ;;
  *) usage ;;
esac
