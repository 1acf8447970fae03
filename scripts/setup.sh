#!/usr/bin/env bash
# Installs what Skua needs to build, run and test on Debian bookworm. Idempotent: packages
# already present are not reinstalled, so a second run costs a few seconds.
#   scripts/setup.sh            build + runtime packages
#   scripts/setup.sh --test     also the Python packages the end-to-end tests use
set -euo pipefail

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    *) echo "setup.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

debs=(
  build-essential cmake ninja-build pkg-config ca-certificates curl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  librocksdb-dev libboost-dev libspdlog-dev libfmt-dev rapidjson-dev libyaml-cpp-dev
  libzstd-dev zlib1g-dev libgtest-dev libgmock-dev clang-format prometheus-cpp-dev
  libssl-dev libcrypt-dev libre2-dev
)

# The test suite also fuzzes (clang's libFuzzer), runs Skua under `prlimit` and mounts a tmpfs.
if ((want_test)); then
  debs+=(clang libclang-rt-14-dev util-linux)
fi

missing=()
for p in "${debs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

if ((want_test)); then
  # pip leaves satisfied requirements alone, so this is quick once installed.
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -r "$(dirname "$0")/../tests/requirements.txt"
fi
