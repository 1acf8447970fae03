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


@pytest.mark.parametrize("where", ["flush", "wal", "nothing-left"])
def test_real_enospc_never_aborts_and_loses_nothing_acknowledged(small_fs, skua_factory, where):
    """The free-space guard off: RocksDB itself meets the full disk, in a memtable flush (small
    memtables) or in the write-ahead log (large ones, little room). Exports get a retryable
    refusal, queries keep working, ingest resumes once space is back, and every acknowledged
    span is there, also after a restart."""
    memtable, room = {"flush": ("8MiB", 24), "wal": ("96MiB", 3), "nothing-left": ("96MiB", 0)}[where]
    skua = skua_factory(["--storage.shards=1", "--storage.min_free_disk_bytes=0",
                         f"--storage.memtable_size={memtable}"], data_dir=small_fs / "data").start()
    stat = os.statvfs(small_fs)
    filler = small_fs / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            f.write(b"\0" * (stat.f_bavail * stat.f_frsize - room * 2**20 - 65536))
            while room == 0:  # whatever is left, up to the last block
                f.write(b"\0" * 4096)
        except OSError:
            pass
    acknowledged, refused = [], None
    for i in range(1, 2000):
        try:
            export(skua, i, 64_000)
            acknowledged.append(i)
        except grpc.RpcError as e:
            refused = e
            if len(acknowledged) > 0 and i > acknowledged[-1] + 20:
                break
    assert refused is not None, "the disk never filled"
    # Stay full for a while: Skua tries to resume writing every second meanwhile.
    for i in range(5):
        time.sleep(1)
        try:
            export(skua, 0x6000 + i, 64_000)
            acknowledged.append(0x6000 + i)
        except grpc.RpcError:
            pass
    assert skua.proc.poll() is None, "Skua died on ENOSPC:\n" + skua.log()[-3000:]
    assert refused.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED), refused
    assert "google.rpc.retryinfo-bin" in dict(refused.trailing_metadata())
    code, text = readyz(skua)
    assert code == 503 and "storage cannot write" in text, text
    assert str(small_fs) not in text, "the answer names no file"
    assert requests.get(skua.url("query-http", "/api/services"), timeout=5).status_code == 200
    assert skua.get_trace(format(acknowledged[0], "x")).status_code == 200

    filler.unlink()
    deadline = time.time() + 60
    while time.time() < deadline and readyz(skua)[0] != 200:
        time.sleep(0.2)
    assert readyz(skua)[0] == 200, "writes did not resume:\n" + skua.log()[-3000:]
    export(skua, 0x7000, 1000)
    acknowledged.append(0x7000)
    for t in acknowledged:
        assert skua.get_trace(format(t, "x")).status_code == 200, t
    assert skua.stop() == 0
    skua.start()
    for t in acknowledged:
        assert skua.get_trace(format(t, "x")).status_code == 200, t
