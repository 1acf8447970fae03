#!/usr/bin/env bash
# Runs helm v3.22.0, building it once from the Go module proxy into a cache outside the repo
# (${XDG_CACHE_HOME:-~/.cache}/skua), so later runs (and the test suite) reuse the binary.
#   scripts/helm.sh lint --strict helm/skua
set -euo pipefail
version=v3.22.0
cache="${XDG_CACHE_HOME:-$HOME/.cache}/skua"
bin="$cache/helm-$version"
if [ ! -x "$bin" ]; then
  command -v go >/dev/null || { echo "helm.sh: Go is needed to build helm" >&2; exit 1; }
  mkdir -p "$cache"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "helm.sh: building helm $version (once)" >&2
  if ! GOBIN="$work/bin" go install "helm.sh/helm/v3/cmd/helm@$version" >"$work/log" 2>&1; then
    # `go install pkg@version` refuses modules with replace directives: build in a scratch module.
    (cd "$work" && go mod init skua-helm-build >/dev/null 2>&1 &&
      go get -tool "helm.sh/helm/v3/cmd/helm@$version" >>"$work/log" 2>&1 &&
      go build -o "$work/bin/helm" helm.sh/helm/v3/cmd/helm >>"$work/log" 2>&1) ||
      { cat "$work/log" >&2; exit 1; }
  fi
  mv "$work/bin/helm" "$bin"
fi
exec "$bin" "$@"
