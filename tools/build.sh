#!/usr/bin/env bash
# Configures (CMake + Ninja) and builds the project; binaries land in BUILD_DIR/bin.
#
#   tools/build.sh [--sanitizer thread|address] [--build-dir DIR] [--target T ...]
#                  [--type Debug|Release|RelWithDebInfo] [--compiler gcc|clang] [--check] [--jobs N]
#
# Default build dir: build (build-tsan / build-asan with a sanitizer), relative to the repo root,
# so each sanitizer keeps its own tree and switching between them never forces a full rebuild.
# --compiler clang builds with clang++ in build-clang (build-clang-tsan, ...) and checks the
# thread-safety annotations (ABSL_GUARDED_BY etc., which g++ ignores): a violation fails the build.
# Its default type is Debug: the analysis does not depend on optimisation, and -O0 costs about a
# quarter less CPU than RelWithDebInfo (the build is for the check; binaries ship from build/).
# --check: compile with -fsyntax-only, writing no objects and linking nothing, in
# BUILD_DIR-check (default target: booking-server, i.e. every library and the app): the
# compiler's diagnostics (with clang, the thread-safety analysis) at a third of a build's cost.
# CI's Clang phase.
# --jobs: parallel compile jobs, default all cores.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  sed -n '4,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

sanitizer=""
build_dir=""
build_type=""
compiler=gcc
check=0
jobs="$(nproc)"
targets=()
while (($#)); do
  case "$1" in
    --sanitizer) (($# >= 2)) || usage; sanitizer="$2"; shift 2 ;;
    --sanitizer=*) sanitizer="${1#*=}"; shift ;;
    --build-dir) (($# >= 2)) || usage; build_dir="$2"; shift 2 ;;
    --build-dir=*) build_dir="${1#*=}"; shift ;;
    --type) (($# >= 2)) || usage; build_type="$2"; shift 2 ;;
    --type=*) build_type="${1#*=}"; shift ;;
    --compiler) (($# >= 2)) || usage; compiler="$2"; shift 2 ;;
    --compiler=*) compiler="${1#*=}"; shift ;;
    --check) check=1; shift ;;
    --jobs) (($# >= 2)) || usage; jobs="$2"; shift 2 ;;
    --jobs=*) jobs="${1#*=}"; shift ;;
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
if [[ -z "$build_type" ]]; then
  if [[ "$compiler" == clang ]]; then build_type=Debug; else build_type=RelWithDebInfo; fi
fi
case "$build_type" in
  Debug | Release | RelWithDebInfo) ;;
  *) echo "build.sh: --type must be Debug, Release or RelWithDebInfo, got '$build_type'" >&2; exit 2 ;;
esac
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "build.sh: --jobs must be a positive number, got '$jobs'" >&2; exit 2; }

# The compiler is passed only for clang: naming it for an existing gcc tree (configured with the
# default c++) would make CMake wipe that tree's cache and rebuild it from scratch.
compiler_args=()
case "$compiler" in
  gcc) compiler_args=(-DBOOKING_THREAD_SAFETY_ANALYSIS=OFF) ;;
  clang)
    clangxx="$(command -v clang++)" || { echo "build.sh: clang++ not found (tools/bootstrap.sh installs it)" >&2; exit 1; }
    # The full path, as CMake caches it, so a reconfigure never sees a "changed" compiler.
    compiler_args=(-DCMAKE_CXX_COMPILER="$clangxx" -DBOOKING_THREAD_SAFETY_ANALYSIS=ON)
    default_dir="${default_dir/build/build-clang}"
    ;;
  *) echo "build.sh: --compiler must be gcc or clang, got '$compiler'" >&2; exit 2 ;;
esac

# ccache, when installed, makes rebuilds and other checkouts of the tree (git worktrees) cheap:
# paths are hashed relative to the checkout's parent, not absolute.
launcher_args=()
if command -v ccache >/dev/null && [[ -z "${BOOKING_NO_CCACHE:-}" ]]; then
  launcher_args=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$ROOT")}" CCACHE_NOHASHDIR=1
fi

((!check)) || default_dir+="-check"
build_dir="${build_dir:-$default_dir}"
[[ "$build_dir" = /* ]] || build_dir="$ROOT/$build_dir"

# Always (re)configure: cheap when nothing changed, and it picks up a changed type/sanitizer.
# BOOKING_SANITIZER is passed even when empty so a stale cache value cannot leak in.
cmake -S "$ROOT" -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="$build_type" \
  -DBOOKING_SANITIZER="$sanitizer" \
  -DBOOKING_SYNTAX_ONLY="$( ((check)) && echo ON || echo OFF)" \
  "${compiler_args[@]}" "${launcher_args[@]}"

if ((check)); then
  # No objects, so nothing to link: the default target is what CI checks, the server (every
  # library and the app).
  ((${#targets[@]} > 0)) || targets=(booking-server)
fi

build_cmd=(cmake --build "$build_dir" -j"$jobs")
((${#targets[@]} == 0)) || build_cmd+=(--target "${targets[@]}")
"${build_cmd[@]}"
