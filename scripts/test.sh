#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs the unit tests, the unit tests
# again under AddressSanitizer + UndefinedBehaviorSanitizer, the fuzz harnesses for a bounded
# time, then the end-to-end tests against the real binary with the real OpenTelemetry SDK.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

echo "== setup"
scripts/setup.sh --test

echo "== format (clang-format, .clang-format)"
find common model config filter storage collector query server bench tests -name '*.cc' -o -name '*.h' |
  xargs clang-format --dry-run --Werror

echo "== build"
scripts/build.sh

echo "== unit tests"
ctest --test-dir build --output-on-failure -j"$jobs" -L unit

echo "== unit tests under ASan+UBSan"
if [ ! -f build-asan/build.ninja ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSKUA_SANITIZE=ON \
    -DSKUA_UNIT_TESTS_ONLY=ON >/dev/null
fi
cmake --build build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit

echo "== fuzzing (libFuzzer, ASan+UBSan; bounded time per harness)"
scripts/fuzz.sh

echo "== end-to-end tests"
SKUA_BIN="$PWD/build/skua" python3 -m pytest -q -p no:cacheprovider tests/e2e
