#!/usr/bin/env bash
# Buf on every proto of the project: its lint rules and its breaking-change check against the
# committed image (protos/image.json), the record of what has been published.
#
#   tools/buf.sh lint [DIR]         buf lint, with protos/buf.yaml
#   tools/buf.sh breaking [DIR]     buf breaking against protos/image.json; DIR: another copy of
#                                   protos/ to check instead (the tests edit one)
#   tools/buf.sh record             rewrite protos/image.json from today's protos: only after a
#                                   reviewed, compatible change (CONTRIBUTING.md)
#
# Buf cannot build these protos itself (google/api comes from Debian, not the Buf Schema
# Registry), so the image is compiled by protoc with the build's include paths.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUF="$ROOT/node_modules/.bin/buf"
GOOGLEAPIS=/usr/share/gocode/src/github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis
# The project's own protos, by folder: what is linted, compared and recorded.
OURS=(tickets external echotest)

[[ -x "$BUF" ]] || { echo "buf.sh: $BUF missing: run tools/bootstrap.sh" >&2; exit 1; }

# image DIR OUT: compiles every .proto under DIR's own folders into the image OUT.
image() {
  local dir="$1" out="$2" files=()
  mapfile -t files < <(cd "$dir" && find "${OURS[@]}" -name '*.proto' | sort)
  (cd "$dir" && protoc -I. -I"$GOOGLEAPIS" --include_imports --include_source_info \
    --descriptor_set_out="$out" "${files[@]}")
}

paths=()
for dir in "${OURS[@]}"; do paths+=(--path "$dir"); done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

case "${1:-}" in
  lint)
    image "${2:-$ROOT/protos}" "$tmp/image.binpb"
    "$BUF" lint "$tmp/image.binpb" --config "$ROOT/protos/buf.yaml" "${paths[@]}"
    echo "buf.sh: lint clean"
    ;;
  breaking)
    image "${2:-$ROOT/protos}" "$tmp/image.binpb"
    "$BUF" breaking "$tmp/image.binpb" --against "$ROOT/protos/image.json" \
      --config "$ROOT/protos/buf.yaml" "${paths[@]}"
    echo "buf.sh: no breaking change against protos/image.json"
    ;;
  record)
    image "$ROOT/protos" "$tmp/image.binpb"
    # No source info: comments and line numbers are not part of the contract. The imports
    # (google/api, google/protobuf) stay, marked as such, so the image is whole; only the
    # project's own files are compared (--path).
    "$BUF" build "$tmp/image.binpb" "${paths[@]}" --exclude-source-info -o "$tmp/image.json"
    python3 -m json.tool --indent 1 "$tmp/image.json" >"$ROOT/protos/image.json"
    echo "buf.sh: wrote protos/image.json"
    ;;
  *)
    echo "usage: $0 lint | breaking [DIR] | record" >&2
    exit 2
    ;;
esac
