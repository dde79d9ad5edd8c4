#!/usr/bin/env bash
# One command for a newcomer: install packages, start the dev database, build, run the server.
#
#   tools/run.sh [booking-server flags...]   (gRPC on 127.0.0.1:50051 by default)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash tools/bootstrap.sh
# pg.sh prints the URL on stdout; keep stdout for the server itself.
bash tools/pg.sh start >/dev/null
bash tools/build.sh --target booking-server

# exec: signals (Ctrl-C, SIGTERM) go straight to the server, which shuts down gracefully.
exec "$ROOT/build/bin/booking-server" --database_url="$(bash tools/pg.sh url)" --log_format=text "$@"
