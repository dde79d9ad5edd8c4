#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build and test the booking service, then the npm tools
# the tests run (package.json: buf, redocly, ajv) into node_modules/.
# Idempotent and quiet: a no-op (no apt-get update, no npm) when everything is already installed.
set -euo pipefail

PACKAGES=(
  # build toolchain (CMake + Ninja, as used by tools/build.sh)
  g++ cmake ninja-build pkg-config make
  # clang++ for the thread-safety analysis build (tools/build.sh --compiler clang; tools/test.sh)
  clang
  # gRPC / protobuf: libraries, code generators, and the well-known grpc protos (health.proto)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto libabsl-dev
  # provides google/api/annotations.proto + http.proto for the HTTP mapping in booking.proto
  golang-github-grpc-ecosystem-grpc-gateway-dev
  # PostgreSQL: server for tools/pg.sh (dev + tests) and the libpqxx client library
  postgresql libpqxx-dev libpq-dev
  # logging, formatting, lock-free queues, Boost headers, HTTP client for the external APIs
  libspdlog-dev libfmt-dev libconcurrentqueue-dev libboost-dev libcurl4-openssl-dev
  # Prometheus metrics (registry, counters, histograms, text format) for GET /metrics
  prometheus-cpp-dev
  # TLS for the gRPC and HTTP ports (Boost.Asio ssl, OpenSSL); openssl makes the test certificates
  libssl-dev openssl
  # tests and benchmarks
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  # HTTP load for the REST benchmark (tools/bench_rest.sh)
  wrk
  # NATS JetStream: the relay's C client, and the servers of its tests (a 3-node cluster on loopback)
  libnats-dev nats-server
  # embeds the console's files (console/) in the binary at build time
  xxd
  # headless browser for the console's e2e tests (tests/e2e/console_*_e2etest.cc)
  chromium
)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

missing=()
# Node.js and npm run the npm tools. Any Node >= 18 will do, so one installed another way (e.g.
# NodeSource's nodejs, which bundles npm and conflicts with Debian's npm) is kept.
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
for pkg in "${PACKAGES[@]}"; do
  # dpkg-query fails (and prints to stderr) for packages it has never heard of: treat as missing.
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

# npm_tools: `npm ci` when node_modules/ was not installed from today's package-lock.json.
npm_tools() {
  local want have=""
  want="$(sha256sum package-lock.json | cut -d' ' -f1)"
  [[ ! -f node_modules/.booking-lock ]] || have="$(cat node_modules/.booking-lock)"
  [[ "$want" != "$have" ]] || return 0
  echo "bootstrap: npm ci (package-lock.json)"
  local log
  log="$(mktemp /tmp/booking-npm.XXXXXX.log)"
  npm ci --no-audit --no-fund >"$log" 2>&1 || { echo "bootstrap: npm ci failed:" >&2; tail -n 40 "$log" >&2; exit 1; }
  rm -f "$log"
  echo "$want" >node_modules/.booking-lock
}

if ((${#missing[@]} == 0)); then
  echo "bootstrap: all ${#PACKAGES[@]} packages already installed"
  npm_tools
  exit 0
fi

SUDO=()
if ((EUID != 0)); then
  command -v sudo >/dev/null || { echo "bootstrap: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi

LOG="$(mktemp /tmp/booking-bootstrap.XXXXXX.log)"
fail() {
  echo "bootstrap: $1 failed; last lines of $LOG:" >&2
  tail -n 40 "$LOG" >&2
  exit 1
}

echo "bootstrap: installing ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$LOG" 2>&1 || fail "apt-get update"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1 || fail "apt-get install"
rm -f "$LOG"
npm_tools
echo "bootstrap: done"
