#!/usr/bin/env bash
# Configures (CMake + Ninja) and builds the project; binaries land in BUILD_DIR/bin.
#
#   tools/build.sh [--sanitizer thread|address] [--build-dir DIR] [--target T ...]
#                  [--type Debug|Release|RelWithDebInfo]
#
# Default build dir: build (build-tsan / build-asan with a sanitizer), relative to the repo root,
# so each sanitizer keeps its own tree and switching between them never forces a full rebuild.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  sed -n '4,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

sanitizer=""
build_dir=""
build_type=RelWithDebInfo
targets=()
while (($#)); do
  case "$1" in
    --sanitizer) (($# >= 2)) || usage; sanitizer="$2"; shift 2 ;;
    --sanitizer=*) sanitizer="${1#*=}"; shift ;;
    --build-dir) (($# >= 2)) || usage; build_dir="$2"; shift 2 ;;
    --build-dir=*) build_dir="${1#*=}"; shift ;;
    --type) (($# >= 2)) || usage; build_type="$2"; shift 2 ;;
    --type=*) build_type="${1#*=}"; shift ;;
    --target)
      # Accepts both "--target a --target b" and "--target a b".
      shift
      if ((!$#)) || [[ "$1" == -* ]]; then usage; fi
      while (($#)) && [[ "$1" != -* ]]; do targets+=("$1"); shift; done
      ;;
    --target=*) targets+=("${1#*=}"); shift ;;
    -h | --help) usage ;;
    *) echo "build.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

case "$sanitizer" in
  "") default_dir=build ;;
  thread) default_dir=build-tsan ;;
  address) default_dir=build-asan ;;
  *) echo "build.sh: --sanitizer must be thread or address, got '$sanitizer'" >&2; exit 2 ;;
esac
case "$build_type" in
  Debug | Release | RelWithDebInfo) ;;
  *) echo "build.sh: --type must be Debug, Release or RelWithDebInfo, got '$build_type'" >&2; exit 2 ;;
esac

build_dir="${build_dir:-$default_dir}"
[[ "$build_dir" = /* ]] || build_dir="$ROOT/$build_dir"

# Always (re)configure: cheap when nothing changed, and it picks up a changed type/sanitizer.
# BOOKING_SANITIZER is passed even when empty so a stale cache value cannot leak in.
cmake -S "$ROOT" -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="$build_type" \
  -DBOOKING_SANITIZER="$sanitizer"

build_cmd=(cmake --build "$build_dir" -j"$(nproc)")
((${#targets[@]} == 0)) || build_cmd+=(--target "${targets[@]}")
"${build_cmd[@]}"
