#!/usr/bin/env bash
# helm v3.22.0, built once from the Go module proxy (scripts/go-tool.sh).
#   scripts/helm.sh lint --strict helm/skua
exec "$(dirname "$0")/go-tool.sh" helm helm.sh/helm/v3/cmd/helm v3.22.0 "$@"
