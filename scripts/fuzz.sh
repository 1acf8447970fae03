#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz (clang, with AddressSanitizer and
# UndefinedBehaviorSanitizer) into build-fuzz/ and runs each for a bounded time, first over its
# seed corpus and the inputs that once crashed it, then on new inputs. Fails if any harness
# crashes; the input is kept under build-fuzz/artifacts/ (add it to tests/fuzz/regressions/).
#   SKUA_FUZZ_SECONDS   seconds per harness (default 20; six harnesses)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SKUA_FUZZ_SECONDS:-20}
harnesses=(otlp_json_fuzz ingest_roundtrip_fuzz query_params_fuzz index_block_fuzz http_request_fuzz filter_fuzz)

if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSKUA_FUZZ=ON >/dev/null
fi
cmake --build build-fuzz

mkdir -p build-fuzz/artifacts
failed=0
for h in "${harnesses[@]}"; do
  work=build-fuzz/corpus/$h
  mkdir -p "$work"
  dirs=("$work" "tests/fuzz/corpus/$h")
  if [ -d "tests/fuzz/regressions/$h" ]; then dirs+=("tests/fuzz/regressions/$h"); fi
  log=build-fuzz/$h.log
  if ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=tests/fuzz/ubsan.supp \
    "build-fuzz/tests/fuzz/$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$h-" \
    "${dirs[@]}" >"$log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)
    echo "fuzz $h: ok, ${execs:-?} executions in ${seconds} s, ${cov:-no coverage line}"
  else
    echo "fuzz $h: FAILED (log: $log)"
    tail -40 "$log"
    failed=1
  fi
done
exit "$failed"
