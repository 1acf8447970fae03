"""A full disk: exports get a retryable refusal, queries keep working, /readyz says why, and
ingest resumes by itself once space is back. The data directory is on a small tmpfs."""

import os
import subprocess
import time

import grpc
import pytest
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from test_ingest_errors import make_request, tid


def export(skua, trace, payload):
    req = make_request([tid(trace)], spans_per_trace=4)
    for s in req.resource_spans[0].scope_spans[0].spans:
        a = s.attributes.add()
        a.key, a.value.string_value = "payload", os.urandom(payload // 2).hex()
    with grpc.insecure_channel(skua.grpc_target) as ch:
        trace_service_pb2_grpc.TraceServiceStub(ch).Export(req, timeout=10)


def readyz(skua):
    r = requests.get(skua.url("admin", "/readyz"), timeout=5)
    return r.status_code, r.text


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_refuses_retryably_and_resumes(small_fs, skua_factory):
    # small_fs first: fixtures are torn down in reverse, so Skua stops before the unmount.
    # The default storage.min_free_disk_bytes (128 MiB) exceeds what the memtables can flush,
    # so RocksDB itself never meets a full disk.
    skua = skua_factory(["--storage.shards=1"], data_dir=small_fs / "data").start()
    export(skua, 0x1, 1000)
    assert skua.get_trace("1").status_code == 200

    # Leave 136 MiB free, then write until Skua sees less than its 128 MiB minimum.
    stat = os.statvfs(small_fs)
    filler = small_fs / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * (stat.f_bavail * stat.f_frsize - 136 * 2**20))
    refused = None
    for i in range(2, 1000):
        try:
            export(skua, i, 64_000)
        except grpc.RpcError as e:
            refused = e
            break
    assert refused is not None, "the full disk was never noticed"
    assert refused.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED), refused
    assert "google.rpc.retryinfo-bin" in dict(refused.trailing_metadata())

    r = requests.post(skua.url("otlp-http", "/v1/traces"),
                      data=make_request([tid(0xFFFF)]).SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert r.status_code == 503 and "Retry-After" in r.headers
    code, text = readyz(skua)
    assert code == 503 and "storage cannot write: disk nearly full" in text, text
    # Reads still work.
    assert skua.get_trace("1").status_code == 200
    assert requests.get(skua.url("query-http", "/api/services"), timeout=5).status_code == 200

    filler.unlink()
    deadline = time.time() + 30
    while time.time() < deadline and readyz(skua)[0] != 200:
        time.sleep(0.2)
    assert readyz(skua)[0] == 200, "writes did not resume after space came back"
    export(skua, 0x5000, 1000)
    assert skua.get_trace("5000").status_code == 200
    assert skua.get_trace("1").status_code == 200
    assert "writes resumed" in skua.log()
    assert skua.stop() == 0
