#!/usr/bin/env bash
# Jaeger v2 (module github.com/jaegertracing/jaeger v1.76.0, program cmd/jaeger), the peer of the
# benchmarks, built once from the Go module proxy (scripts/go-tool.sh).
#   scripts/jaeger.sh --config FILE     run it
#   scripts/jaeger.sh --print-path      build if needed, print the binary's path
exec "$(dirname "$0")/go-tool.sh" jaeger github.com/jaegertracing/jaeger/cmd/jaeger v1.76.0 "$@"
