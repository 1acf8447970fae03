#!/usr/bin/env bash
# Configures and builds Skua into build/ (release with debug info). Extra arguments are passed
# to the build tool, e.g. `scripts/build.sh skua` builds only the daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build -- "$@"
