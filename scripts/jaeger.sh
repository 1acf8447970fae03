#!/usr/bin/env bash
# Runs Jaeger v2 (module github.com/jaegertracing/jaeger v1.76.0, program cmd/jaeger), the peer of
# the benchmarks, building it once from the Go module proxy into a cache outside the repo
# (${XDG_CACHE_HOME:-~/.cache}/skua).
#   scripts/jaeger.sh --config FILE     run it
#   scripts/jaeger.sh --print-path      build if needed, print the binary's path
set -euo pipefail
version=v1.76.0
cache="${XDG_CACHE_HOME:-$HOME/.cache}/skua"
bin="$cache/jaeger-$version"
if [ ! -x "$bin" ]; then
  command -v go >/dev/null || { echo "jaeger.sh: Go is needed to build Jaeger" >&2; exit 1; }
  mkdir -p "$cache"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "jaeger.sh: building Jaeger $version (once; several minutes)" >&2
  if ! GOBIN="$work/bin" go install "github.com/jaegertracing/jaeger/cmd/jaeger@$version" \
      >"$work/log" 2>&1; then
    # `go install pkg@version` refuses modules with replace directives: build in a scratch module.
    (cd "$work" && go mod init skua-jaeger-build >/dev/null 2>&1 &&
      go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$version" >>"$work/log" 2>&1 &&
      go build -o "$work/bin/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger >>"$work/log" 2>&1) ||
      { cat "$work/log" >&2; exit 1; }
  fi
  mv "$work/bin/jaeger" "$bin"
fi
if [ "${1:-}" = "--print-path" ]; then echo "$bin"; exit 0; fi
exec "$bin" "$@"
