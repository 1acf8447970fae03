#!/usr/bin/env bash
# Runs Jaeger's own v2 storage integration suite for remote gRPC backends (TestGRPCStorage of
# cmd/jaeger/internal/integration, module github.com/jaegertracing/jaeger v1.76.0) against a
# Skua on loopback, as Jaeger's "certifying compliance" guide describes: the real Jaeger binary
# is started by the suite with Skua as its remote storage (reads on Skua's query gRPC port,
# writes on its OTLP gRPC port), and the suite purges Skua before each test through the admin
# port's POST /purge (admin.purge.enabled).
#
#   scripts/jaeger-storage-suite.sh [SKUA_BINARY]     (default: build/skua)
#
# Fails if any test fails, or if a test is skipped that is not listed in docs/api.md ("Jaeger's
# storage integration suite"). The suite uses Jaeger's fixed ports (4317, 4318, 16685, 16686,
# 13133, 8888): they must be free. The module source is copied once into the cache
# (${XDG_CACHE_HOME:-~/.cache}/skua/); Go's build cache makes later runs cheap.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
skua=${1:-$repo/build/skua}
version=v1.76.0
cache="${XDG_CACHE_HOME:-$HOME/.cache}/skua"
src="$cache/jaeger-src-$version"
# Skipped for gRPC backends, with the reason in docs/api.md. Empty at this version: every test
# of RunSpanStoreTests runs.
allowed_skips=()

jaeger_bin=$(scripts/jaeger.sh --print-path)
if [ ! -f "$src/go.mod" ]; then
  mod_dir=$(cd "$(mktemp -d)" && go mod download -json "github.com/jaegertracing/jaeger@$version" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$src.tmp"
  cp -r "$mod_dir" "$src.tmp"
  chmod -R u+w "$src.tmp"
  mv "$src.tmp" "$src"
fi
# The suite starts ./cmd/jaeger/jaeger from the module root: the binary built from this version.
cp "$jaeger_bin" "$src/cmd/jaeger/jaeger"

work=$(mktemp -d)
skua_pid=
cleanup() {
  if [ -n "$skua_pid" ]; then kill "$skua_pid" 2>/dev/null || true; wait "$skua_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

read -r otlp_grpc otlp_http query_http query_grpc admin < <(scripts/free-ports.py 5)
"$skua" --storage.path="$work/data" \
  --collector.otlp.grpc.endpoint="127.0.0.1:$otlp_grpc" \
  --collector.otlp.http.endpoint="127.0.0.1:$otlp_http" \
  --query.http.endpoint="127.0.0.1:$query_http" \
  --query.grpc.endpoint="127.0.0.1:$query_grpc" \
  --admin.endpoint="127.0.0.1:$admin" \
  --admin.purge.enabled=true >"$work/skua.log" 2>&1 &
skua_pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && break
  kill -0 "$skua_pid" 2>/dev/null || { cat "$work/skua.log" >&2; exit 1; }
  sleep 0.2
done
curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null || { cat "$work/skua.log" >&2; exit 1; }

echo "jaeger-storage-suite: Jaeger $version TestGRPCStorage against Skua (pid $skua_pid)"
status=0
(cd "$src/cmd/jaeger/internal/integration" &&
  STORAGE=grpc CUSTOM_STORAGE=true \
    REMOTE_STORAGE_ENDPOINT="127.0.0.1:$query_grpc" \
    REMOTE_STORAGE_WRITER_ENDPOINT="127.0.0.1:$otlp_grpc" \
    PURGER_ENDPOINT="http://127.0.0.1:$admin/purge" \
    go test -count=1 -v -timeout 20m -run '^TestGRPCStorage$' .) >"$work/suite.log" 2>&1 || status=$?
grep -E '^\s*--- (PASS|FAIL|SKIP)' "$work/suite.log" || true
if [ "$status" -ne 0 ] || ! grep -q '^--- PASS: TestGRPCStorage' "$work/suite.log"; then
  echo "jaeger-storage-suite: FAILED (go test exit $status); the suite's log:" >&2
  tail -n 200 "$work/suite.log" >&2
  echo "jaeger-storage-suite: Skua's log:" >&2
  tail -n 50 "$work/skua.log" >&2
  exit 1
fi
unexpected=0
while read -r name; do
  listed=0
  for a in "${allowed_skips[@]}"; do [ "$a" = "$name" ] && listed=1; done
  if [ "$listed" -eq 0 ]; then
    echo "jaeger-storage-suite: $name was skipped and is not listed in docs/api.md" >&2
    unexpected=1
  fi
done < <(sed -nE 's/^\s*--- SKIP: ([^ ]+).*/\1/p' "$work/suite.log")
[ "$unexpected" -eq 0 ] || exit 1
passed=$(grep -cE '^\s*--- PASS' "$work/suite.log")
echo "jaeger-storage-suite: passed ($passed tests and subtests, none skipped)"
