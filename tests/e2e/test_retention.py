"""Retention end to end with a retention of seconds: data visible before expiry and invisible
after it (trace lookup, search and the services list), per-service overrides, and disk space
reclaimed by dropping whole time partitions."""

import os
import time
from pathlib import Path

import requests

from conftest import metric_value
from test_ingest_errors import make_request


def tid(n):
    return n.to_bytes(16, "big")


def post(skua, req):
    r = requests.post(skua.url("otlp-http", "/v1/traces"), data=req.SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert r.status_code == 200, r.text


def now_request(trace_ids, service, spans_per_trace=1, payload=0):
    req = make_request([tid(t) for t in trace_ids], spans_per_trace, 0, service)
    now = time.time_ns()
    for s in req.resource_spans[0].scope_spans[0].spans:
        s.start_time_unix_nano, s.end_time_unix_nano = now, now + 1_000_000
        if payload:  # incompressible, so the bytes reach the disk
            a = s.attributes.add()
            a.key, a.value.string_value = "payload", os.urandom(payload // 2).hex()
    return req


def search(skua, service):
    r = requests.get(skua.url("query-http", f"/api/traces?service={service}&limit=1000"), timeout=10)
    assert r.status_code == 200
    return {t["traceID"].lstrip("0") for t in r.json()["data"]}


def services(skua):
    r = requests.get(skua.url("query-http", "/api/services"), timeout=10)
    assert r.status_code == 200
    return set(r.json()["data"])


def du(path: Path):
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def wait_until(fn, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.25)
    return False


def test_expiry_overrides_and_reclaimed_space(skua_factory):
    flags = ["--storage.retention=5s", "--storage.retention_overrides=keep=1h", "--storage.shards=1"]
    skua = skua_factory(flags).start()
    short = list(range(0x100, 0x140))
    post(skua, now_request(short, "short", spans_per_trace=20, payload=2000))
    post(skua, now_request([0x200], "keep"))
    assert skua.get_trace("100").status_code == 200
    assert skua.get_trace("200").status_code == 200
    assert search(skua, "short") == {format(t, "x") for t in short}
    assert search(skua, "keep") == {"200"}
    assert services(skua) == {"short", "keep"}

    # Partitions of 1 s; the one written into expires 5 s after it closes.
    assert wait_until(lambda: skua.get_trace("100").status_code == 404), "short-lived data stayed"
    assert search(skua, "short") == set()
    assert skua.get_trace("200").status_code == 200, "the override keeps 'keep' for an hour"
    assert search(skua, "keep") == {"200"}
    assert wait_until(lambda: metric_value(
        skua.metrics(), "skua_storage_partitions_dropped", reason="retention") >= 1)
    # The services list follows: a service whose spans are all dropped is no longer offered.
    assert wait_until(lambda: services(skua) == {"keep"}), services(skua)

    # Space: stop (flushes to files), write again, let it expire while stopped; the next start
    # drops the expired partition and its files.
    assert skua.stop() == 0
    skua.start()
    post(skua, now_request(list(range(0x300, 0x340)), "short", spans_per_trace=20, payload=2000))
    assert skua.stop() == 0
    before = du(skua.data_dir)
    time.sleep(7)
    skua.start()
    assert wait_until(lambda: du(skua.data_dir) < before - 1_000_000), (
        f"disk usage did not fall: {before} -> {du(skua.data_dir)}")
    assert skua.get_trace("300").status_code == 404
    assert skua.get_trace("200").status_code == 200
    assert "dropped partition" in skua.log()
