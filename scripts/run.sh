#!/usr/bin/env bash
# Installs what is missing, builds, and runs Skua with the default configuration, data under
# ./data and every port on 127.0.0.1. Extra arguments are passed to skua (e.g. --log.level=debug).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh skua
exec build/skua --config config/skua.yaml \
  --storage.path=./data \
  --collector.otlp.grpc.endpoint=127.0.0.1:4317 \
  --collector.otlp.http.endpoint=127.0.0.1:4318 \
  --query.http.endpoint=127.0.0.1:16686 \
  --query.grpc.endpoint=127.0.0.1:16685 \
  --admin.endpoint=127.0.0.1:8888 \
  "$@"
