"""Durability across kill -9, clean shutdown on SIGTERM, the command line, and the admin port."""

import random
import subprocess
import threading
import time

import grpc
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from conftest import metric_value, skua_binary
from test_ingest_errors import make_request, tid


def load_until_killed(skua, min_acks, workers=4):
    """Exports from several threads until `min_acks` requests are acknowledged, then kill -9s the
    daemon while the load is still running. Returns the acknowledged trace IDs."""
    acked = []
    lock = threading.Lock()
    stop = threading.Event()
    target = skua.grpc_target

    def sender(worker):
        with grpc.insecure_channel(target) as ch:
            stub = trace_service_pb2_grpc.TraceServiceStub(ch)
            n = 0
            while not stop.is_set():
                n += 1
                traces = [(worker << 40) | (n << 8) | k for k in range(1, 6)]
                try:
                    stub.Export(make_request([tid(t) for t in traces], spans_per_trace=4), timeout=5)
                except grpc.RpcError:
                    if stop.is_set():
                        return
                    time.sleep(0.01)
                    continue
                with lock:
                    acked.extend(traces)

    threads = [threading.Thread(target=sender, args=(w + 1,)) for w in range(workers)]
    for t in threads:
        t.start()
    deadline = time.time() + 60
    while time.time() < deadline:
        with lock:
            if len(acked) >= min_acks * 5:
                break
        time.sleep(0.005)
    skua.kill()  # while exports are in flight
    stop.set()
    for t in threads:
        t.join()
    with lock:
        return list(acked)


def assert_searchable(skua, trace_ids, sample=300):
    """The search index is complete: a sample of the traces is found by a tag search."""
    window = "start=1699999999000000&end=1700000001000000"
    for t in random.Random(len(trace_ids)).sample(trace_ids, min(sample, len(trace_ids))):
        h = format(t, "x")
        r = requests.get(skua.url("query-http", f"/api/traces?service=svc&tag=trace.hex:{h}&{window}"),
                         timeout=10)
        assert r.status_code == 200, r.text
        found = [x["traceID"].lstrip("0") for x in r.json()["data"]]
        assert found == [h], f"trace {h} not found by search after restart: {found}"


def assert_complete(skua, traces, what):
    missing = []
    for t in traces:
        r = skua.get_trace(format(t, "x"))
        # Exactly the 4 spans sent: none lost, none duplicated by a retry or a replay.
        if r.status_code != 200 or len(r.json()["data"][0]["spans"]) != 4:
            missing.append(format(t, "x"))
    assert not missing, f"{what}: {len(missing)} acknowledged traces incomplete: {missing[:5]}"


def test_every_acknowledged_span_survives_kill_9(skua_factory):
    """Crash loop: ingest under load, SIGKILL at a random moment, restart on the same data,
    ten times over; every acknowledged span is stored once and found by search."""
    rng = random.Random(20261126)
    skua = skua_factory().start()
    all_acked = []
    for cycle in range(10):
        acked = load_until_killed(skua, min_acks=rng.randint(20, 150))
        assert len(acked) >= 100
        all_acked += acked
        skua.start()  # same data directory
        assert_complete(skua, acked, f"cycle {cycle}")
        assert_complete(skua, rng.sample(all_acked, min(200, len(all_acked))), f"cycle {cycle} (older)")
    assert_complete(skua, all_acked, "after 10 cycles")
    assert_searchable(skua, all_acked, sample=500)
    assert skua.stop() == 0


def test_sigterm_drains_and_exits_zero(skua):
    r = requests.get(skua.url("admin", "/readyz"), timeout=5)
    assert r.status_code == 200
    with grpc.insecure_channel(skua.grpc_target) as ch:
        trace_service_pb2_grpc.TraceServiceStub(ch).Export(make_request([tid(0xC1)]), timeout=5)
    data_dir = skua.data_dir
    assert skua.stop() == 0
    log = skua.log()
    assert "received SIGTERM" in log and "storage closed" in log
    skua.start()
    assert skua.data_dir == data_dir
    assert skua.get_trace("c1").status_code == 200


def test_admin_endpoints(skua):
    assert requests.get(skua.url("admin", "/healthz"), timeout=5).status_code == 200
    assert requests.get(skua.url("admin", "/readyz"), timeout=5).text == "ready\n"
    assert requests.get(skua.url("admin", "/nope"), timeout=5).status_code == 404
    with grpc.insecure_channel(skua.grpc_target) as ch:
        trace_service_pb2_grpc.TraceServiceStub(ch).Export(make_request([tid(0xD1)], 3), timeout=5)
    r = requests.get(skua.url("admin", "/metrics"), timeout=5)
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    m = r.text
    assert metric_value(m, "skua_spans_received_total", transport="grpc") == 3
    assert metric_value(m, "skua_spans_accepted_total", transport="grpc") == 3
    assert "# TYPE skua_storage_write_batch_seconds histogram" in m
    assert 'skua_ingest_queue_bytes{shard="0"}' in m
    assert metric_value(m, "skua_storage_live_data_bytes") > 0


def test_query_errors_use_jaeger_envelopes(skua):
    r = skua.get_trace("0123456789abcdef0123456789abcdef")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.json() == {"data": None, "total": 0, "limit": 0, "offset": 0,
                        "errors": [{"code": 404, "msg": "trace not found"}]}
    r = skua.get_trace("not-a-trace-id!")
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 400
    r = skua.get_trace("a" * 33)
    assert r.status_code == 400
    r = requests.get(skua.url("query-http", "/api/traces/abc?start=soon"), timeout=5)
    assert r.status_code == 400
    assert r.json()["errors"][0]["msg"] == (
        "unable to parse param 'start': strconv.ParseInt: parsing \"soon\": invalid syntax")
    r = requests.get(skua.url("query-http", "/api/traces/abc?raw=maybe"), timeout=5)
    assert r.status_code == 400
    r = skua.get_trace("abc", version="v3")
    assert r.status_code == 404
    assert r.json() == {"error": {"httpCode": 404, "message": "No traces found"}}
    r = requests.get(skua.url("query-http", "/api/v3/traces/abc?start_time=yesterday"), timeout=5)
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("malformed parameter start_time")
    r = requests.get(skua.url("query-http", "/api/nothing-here"), timeout=5)
    assert r.status_code == 404 and r.text == "404 page not found\n"


def test_time_hints_and_pretty_print(skua):
    with grpc.insecure_channel(skua.grpc_target) as ch:
        trace_service_pb2_grpc.TraceServiceStub(ch).Export(make_request([tid(0xE1)]), timeout=5)
    # Jaeger's microsecond hints and Grafana's millisecond hints both find the trace.
    for q in ["start=1700000000000000&end=1700000001000000", "start=1700000000000&end=1700000001000"]:
        r = requests.get(skua.url("query-http", f"/api/traces/e1?{q}"), timeout=5)
        assert r.status_code == 200, q
    r = requests.get(skua.url("query-http", "/api/traces/e1?prettyPrint=true"), timeout=5)
    assert r.status_code == 200 and '\n    "data": [' in r.text
    r = requests.get(
        skua.url("query-http", "/api/v3/traces/e1?start_time=2023-11-14T22:13:20Z&endTime=2023-11-14T22:13:21.5%2B01:00"),
        timeout=5)
    assert r.status_code == 200


def run_cli(*args, env=None):
    return subprocess.run([skua_binary(), *args], capture_output=True, text=True, timeout=30, env=env)


def test_help_lists_every_key():
    r = run_cli("--help")
    assert r.returncode == 0
    for key in ["storage.path", "storage.shards", "collector.otlp.grpc.endpoint",
                "collector.otlp.http.endpoint", "query.http.endpoint", "query.grpc.endpoint", "admin.endpoint", "log.level",
                "collector.otlp.grpc.max_recv_msg_size", "collector.queue.max_bytes"]:
        assert key in r.stdout
    assert "SKUA_STORAGE_PATH" in r.stdout and "default localhost:4317" in r.stdout


def test_bad_configuration_exits_2_naming_the_key(tmp_path):
    r = run_cli("--storage.colour=red")
    assert r.returncode == 2 and "storage.colour" in r.stderr
    r = run_cli("--log.level=chatty")
    assert r.returncode == 2 and "log.level" in r.stderr
    r = run_cli(env={"SKUA_STORAGE_SHARDS": "many", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and "storage.shards" in r.stderr and "SKUA_STORAGE_SHARDS" in r.stderr
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("collector:\n  otlp:\n    grpc:\n      endpoint: nowhere\n")
    r = run_cli("--config", str(cfg))
    assert r.returncode == 2 and "collector.otlp.grpc.endpoint" in r.stderr


def test_config_file_and_environment_are_applied(skua_factory, tmp_path):
    cfg = tmp_path / "skua.yaml"
    cfg.write_text("storage:\n  shards: 3\nlog:\n  level: debug\n")
    skua = skua_factory(["--config", str(cfg)], env={"SKUA_LOG_LEVEL": "warn"})
    skua.flags.append("--log.level=info")
    skua.start()
    assert "3 shards" in skua.log()
    assert skua.stop() == 0
    # The directory remembers its shard count; another explicit count is refused clearly.
    other = skua_factory(["--storage.shards=5"], data_dir=skua.data_dir)
    try:
        other.start(timeout=10)
        raise AssertionError("should not start")
    except RuntimeError as e:
        assert "storage.shards=3" in str(e)
