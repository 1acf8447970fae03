#!/usr/bin/env bash
# Builds a Go program from the Go module proxy once, caches it outside the repo
# (${XDG_CACHE_HOME:-~/.cache}/skua/NAME-VERSION) and runs it with the remaining arguments.
#   scripts/go-tool.sh NAME PACKAGE VERSION [ARGS...]
#   scripts/go-tool.sh NAME PACKAGE VERSION --print-path     build if needed, print the path
set -euo pipefail
name=$1 pkg=$2 version=$3
shift 3
cache="${XDG_CACHE_HOME:-$HOME/.cache}/skua"
bin="$cache/$name-$version"
if [ ! -x "$bin" ]; then
  command -v go >/dev/null || { echo "go-tool.sh: Go is needed to build $name" >&2; exit 1; }
  mkdir -p "$cache"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "go-tool.sh: building $name $version (once)" >&2
  if ! GOBIN="$work/bin" go install "$pkg@$version" >"$work/log" 2>&1; then
    # `go install pkg@version` refuses modules with replace directives: build in a scratch module.
    (cd "$work" && go mod init "skua-$name-build" >/dev/null 2>&1 &&
      go get -tool "$pkg@$version" >>"$work/log" 2>&1 &&
      go build -o "$work/bin/$(basename "$pkg")" "$pkg" >>"$work/log" 2>&1) ||
      { cat "$work/log" >&2; exit 1; }
  fi
  mv "$work/bin/$(basename "$pkg")" "$bin"
fi
if [ "${1:-}" = "--print-path" ]; then echo "$bin"; exit 0; fi
exec "$bin" "$@"
