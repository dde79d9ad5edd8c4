#!/usr/bin/env bash
# The one test command (also what CI runs via .ci/run).
#
#   tools/test.sh [--fast]
#
# Phases: Clang's thread-safety analysis (compile check only: every library and the app), the
# whole suite under AddressSanitizer (build-asan/), and ThreadSanitizer on the concurrency tests
# (build-tsan/ registers only those). --fast instead builds normally (build/) and runs the whole
# suite once, unsanitized: the quick loop while developing.
# Every phase runs even if an earlier one failed; the exit status is non-zero if any failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

fast=0
for arg in "$@"; do
  case "$arg" in
    --fast) fast=1 ;;
    *) echo "usage: $0 [--fast]" >&2; exit 2 ;;
  esac
done

# Prerequisites: without packages or a database nothing below is meaningful, so fail fast.
bash tools/bootstrap.sh

# A separate cluster from the dev one (tools/run.sh uses 55432), so tests never touch dev data.
# It is left running afterwards: cheap, and reruns skip initdb/start-up.
TEST_PG_PORT="${BOOKING_TEST_PG_PORT:-55433}"
env -u BOOKING_PG_DIR BOOKING_PG_PORT="$TEST_PG_PORT" bash tools/pg.sh start >/dev/null
# The tests create and drop their own databases, hence the maintenance db "postgres" here.
export BOOKING_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$TEST_PG_PORT/postgres"
echo "test.sh: test database server at $BOOKING_TEST_DATABASE_URL"

# Sanitizer settings; options already in the environment come last so they win.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1${TSAN_OPTIONS:+ $TSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+ $ASAN_OPTIONS}"
# Optional suppression files for third-party noise (gRPC/absl); used only if someone adds them.
[[ ! -f tests/tsan.supp ]] || TSAN_OPTIONS+=" suppressions=$ROOT/tests/tsan.supp"
[[ ! -f tests/lsan.supp ]] || export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp print_suppressions=0${LSAN_OPTIONS:+ $LSAN_OPTIONS}"

# GCC 12's TSan runtime aborts ("unexpected memory mapping") on kernels with mmap_rnd_bits > 28;
# running without ASLR (setarch -R, inherited by child processes) avoids that.
TSAN_PREFIX=()
if (($(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0) > 28)) &&
  setarch "$(uname -m)" -R true 2>/dev/null; then
  TSAN_PREFIX=(setarch "$(uname -m)" -R)
fi

summary=()
failed=0
phase_ok=0 # status of the last phase, so a test phase can be skipped when its build failed

# phase NAME COMMAND...: runs COMMAND, records PASS/FAIL and elapsed seconds.
phase() {
  local name="$1" start=$SECONDS status
  shift
  echo
  echo "=== test.sh: $name: $*"
  if "$@"; then status=PASS; phase_ok=1; else status=FAIL; phase_ok=0; failed=1; fi
  summary+=("$(printf '%-4s  %-11s %5ds' "$status" "$name" $((SECONDS - start)))")
}
skip() { summary+=("$(printf '%-4s  %-11s %5s   (%s)' SKIP "$1" - "$2")"); failed=1; }

# run_ctest DIR ARGS...: ctest with its output kept, adding its counts to the totals printed last.
total_passed=0
total_failed=0
RUN_PREFIX=(env) # a no-op prefix; the ThreadSanitizer phase may use setarch instead
run_ctest() {
  local dir="$1" status=0 line
  shift
  "${RUN_PREFIX[@]}" ctest --test-dir "$dir" "$@" 2>&1 | tee "$dir/ctest.log"
  status=${PIPESTATUS[0]}
  line="$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$dir/ctest.log" | tail -n 1)"
  if [[ "$line" =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
    total_failed=$((total_failed + BASH_REMATCH[1]))
    total_passed=$((total_passed + BASH_REMATCH[2] - BASH_REMATCH[1]))
  fi
  return "$status"
}

# --no-tests=error: a wrong label or a missing add_test must not pass silently.
if ((fast)); then
  phase build bash tools/build.sh
  if ((phase_ok)); then
    phase test run_ctest build --output-on-failure -j2 --timeout 300 --no-tests=error
  else
    skip test "build failed"
  fi
else
  # First, as it is the quickest (no code generated): a lock mistake fails here.
  phase check-clang bash tools/build.sh --compiler clang --check

  # The whole suite once, under AddressSanitizer: an unsanitized run on top would find nothing
  # more and cost a build and a run. Sanitized code is slower, hence the longer timeout.
  phase build-asan bash tools/build.sh --sanitizer address
  if ((phase_ok)); then
    phase test-asan run_ctest build-asan --output-on-failure -j2 --timeout 900 --no-tests=error
  else
    skip test-asan "build failed"
  fi

  # Only the tests (booking_tests: the ones registered, i.e. those marked CONCURRENCY) and what
  # they link; not the server, the tools or the benchmarks.
  phase build-tsan bash tools/build.sh --sanitizer thread --target booking_tests
  if ((phase_ok)); then
    ((${#TSAN_PREFIX[@]} == 0)) || RUN_PREFIX=("${TSAN_PREFIX[@]}")
    phase test-tsan run_ctest build-tsan --output-on-failure --timeout 900 --no-tests=error
    RUN_PREFIX=(env)
  else
    skip test-tsan "build failed"
  fi
fi

echo
echo "=== test.sh summary (test cluster left running on port $TEST_PG_PORT; stop: BOOKING_PG_PORT=$TEST_PG_PORT tools/pg.sh stop)"
printf '%s\n' "${summary[@]}"
echo "tests: $total_passed passed, $total_failed failed"
if ((failed)); then
  echo "test.sh: FAILED"
  exit 1
fi
echo "test.sh: all phases passed"
