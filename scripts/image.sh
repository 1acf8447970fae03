#!/usr/bin/env bash
# Builds the container image from the Dockerfile with podman and smoke-tests it: Skua from the
# image runs on loopback ports, takes an OTLP export and returns the trace.
#
#   scripts/image.sh [TAG]          (default: skua:test)
#
# Where no Docker engine runs (this machine kind), podman builds with chroot isolation. The
# Dockerfile's bases, debian:bookworm and debian:bookworm-slim, are one `debootstrap
# --variant=minbase bookworm` tree imported into podman, made once and cached as a tarball
# (${XDG_CACHE_HOME:-~/.cache}/skua/); later runs cost only the image build, whose package
# layer and compiler cache (ccache, a build cache mount) are kept by podman between builds.
# `podman run` cannot set rlimits here, so the smoke test runs the image's own filesystem
# (`podman image mount`) under chroot as the image's user, 10001, with a data directory bound
# onto /data. Needs root (podman storage, mounts, chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-skua:test}
cache="${XDG_CACHE_HOME:-$HOME/.cache}/skua"
base_tar="$cache/debian-bookworm-minbase.tar"

need=()
command -v podman >/dev/null || need+=(podman)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
  echo "image: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! podman image exists debian:bookworm || ! podman image exists debian:bookworm-slim; then
  if [ ! -s "$base_tar" ]; then
    echo "image: debootstrap --variant=minbase bookworm (once)"
    root=$(mktemp -d)
    debootstrap --variant=minbase bookworm "$root" >/dev/null
    mkdir -p "$cache"
    tar -C "$root" -cf "$base_tar.tmp" .
    mv "$base_tar.tmp" "$base_tar"
    rm -rf "$root"
  fi
  podman import "$base_tar" debian:bookworm >/dev/null
  podman tag debian:bookworm debian:bookworm-slim
fi

echo "image: podman build -t $tag"
# Docker format keeps the HEALTHCHECK (OCI images have none).
podman build --isolation chroot --network host --format docker -q -t "$tag" . >/dev/null
size=$(podman image inspect "$tag" --format '{{.Size}}')
echo "image: built $tag ($((size / 1000000)) MB)"

# ---- smoke test ----
work=$(mktemp -d)
mnt=
pid=
mounted=()
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}" 2>/dev/null || true; done
  if [ -n "$mnt" ]; then podman image unmount "$tag" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mnt=$(podman image mount "$tag")
mkdir -p "$work/data"
chown 10001:10001 "$work/data"
for m in data:"$work/data" proc:/proc dev:/dev; do
  mount --bind "${m#*:}" "$mnt/${m%%:*}"
  mounted+=("$mnt/${m%%:*}")
done
read -r otlp_grpc otlp_http query_http query_grpc admin < <(scripts/free-ports.py 5)
# The image's command line and environment, with the listeners moved to loopback.
env -i PATH=/usr/local/bin:/usr/bin:/bin SKUA_STORAGE_PATH=/data HOME=/data \
  "$(command -v chroot)" --userspec=10001:10001 "$mnt" /usr/local/bin/skua --config /etc/skua/skua.yaml \
  --collector.otlp.grpc.endpoint="127.0.0.1:$otlp_grpc" \
  --collector.otlp.http.endpoint="127.0.0.1:$otlp_http" \
  --query.http.endpoint="127.0.0.1:$query_http" \
  --query.grpc.endpoint="127.0.0.1:$query_grpc" \
  --admin.endpoint="127.0.0.1:$admin" >"$work/skua.log" 2>&1 &
pid=$!
for _ in $(seq 150); do
  curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null || { cat "$work/skua.log" >&2; exit 1; }
trace=5c0ffee0000000000000000000000001
now=$(date +%s%N)
curl -fsS -X POST "http://127.0.0.1:$otlp_http/v1/traces" -H 'Content-Type: application/json' \
  -d '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"image-smoke"}}]},
       "scopeSpans":[{"spans":[{"traceId":"'$trace'","spanId":"0000000000000001","name":"smoke",
       "kind":2,"startTimeUnixNano":"'$now'","endTimeUnixNano":"'$((now + 1000000))'"}]}]}]}' >/dev/null
got=$(curl -fsS "http://127.0.0.1:$query_http/api/v3/traces/$trace")
if ! grep -q '"name":"smoke"' <<<"$got"; then
  echo "image: the trace did not come back: $got" >&2
  cat "$work/skua.log" >&2
  exit 1
fi
owner=$(stat -c %u "$work/data/SKUA_META")
[ "$owner" = 10001 ] || { echo "image: data written as uid $owner, not 10001" >&2; exit 1; }
kill -TERM "$pid"
wait "$pid" || { echo "image: skua exited with $? on SIGTERM" >&2; cat "$work/skua.log" >&2; exit 1; }
pid=
echo "image: smoke test passed (export over OTLP/HTTP, read back over api_v3, as uid 10001)"
