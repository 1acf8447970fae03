"""Skua against a hostile client, on loopback: each input that once crashed it, bricked its store
or exhausted its memory is sent again, and the answer, the process, its peak memory and a baseline
of acknowledged spans are checked afterwards (including after kill -9 and restart)."""

import gzip
import json
import socket
import threading
import time

import grpc
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from conftest import metric_value
from test_ingest_errors import make_request, tid

MiB = 2**20


def peak_rss(skua):
    """Peak resident memory of the process so far (VmHWM), bytes."""
    for line in open(f"/proc/{skua.proc.pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def rss_bound(shards=2, memtable=96 * MiB, queue=64 * MiB, block_cache=128 * MiB,
              inflight=256 * MiB, grpc_memory=(128 + 32) * MiB, response=64 * MiB,
              search_threads=2):
    """The bound of docs/operations.md ("Memory"), for the settings given."""
    return (96 * MiB + inflight + grpc_memory + shards * (queue + memtable + 88 * MiB) +
            block_cache + (2 + search_threads) * 3 * response + 64 * MiB)


def baseline(skua, n=20):
    """Stores n traces of 3 spans through gRPC; returns their IDs (hex)."""
    ids = [0xB000 + i for i in range(n)]
    req = make_request([tid(t) for t in ids], spans_per_trace=3, service="baseline")
    with grpc.insecure_channel(skua.grpc_target) as ch:
        trace_service_pb2_grpc.TraceServiceStub(ch).Export(req, timeout=10)
    return [format(t, "x") for t in ids]


def assert_baseline(skua, ids):
    for t in ids:
        r = skua.get_trace(t)
        assert r.status_code == 200, (t, r.text)
        assert len(r.json()["data"][0]["spans"]) == 3
    r = requests.get(skua.url("query-http", "/api/traces"),
                     params={"service": "baseline", "start": "0", "limit": "1000"}, timeout=10)
    assert r.status_code == 200, r.text
    assert {t["traceID"].lstrip("0") for t in r.json()["data"]} == set(ids)
    services = requests.get(skua.url("query-http", "/api/services"), timeout=10)
    assert services.status_code == 200 and "baseline" in services.json()["data"]


def json_span(name="op", attributes=(), trace="0102030405060708090a0b0c0d0e0f10", span="0102030405060708"):
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "hostile"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": trace, "spanId": span, "name": name,
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000100000000",
            "attributes": list(attributes)}]}]}]}


def nested_value(levels):
    v = {"intValue": "1"}
    for _ in range(levels - 1):
        v = {"arrayValue": {"values": [v]}}
    return v


def post_otlp(skua, body, content_type, headers=None):
    return requests.post(skua.url("otlp-http", "/v1/traces"), data=body,
                         headers={"Content-Type": content_type, **(headers or {})}, timeout=30)


@pytest.fixture
def hostile(skua_factory):
    skua = skua_factory(["--storage.shards=2"]).start()
    ids = baseline(skua)
    return skua, ids


def test_json_bombs_are_refused_without_recursion_or_quadratic_memory(hostile):
    skua, ids = hostile
    r = post_otlp(skua, b"[" * 200_000, "application/json")
    assert r.status_code == 400 and "nested deeper than" in r.json()["message"], r.text
    # An attribute value nested 4,000 deep (written out by hand: Python's encoder recurses).
    value = '{"arrayValue":{"values":[' * 3999 + '{"intValue":"1"}' + "]}}" * 3999
    deep = json.dumps(json_span(attributes=[{"key": "deep", "value": "@"}])).replace('"@"', value)
    r = post_otlp(skua, deep, "application/json")
    assert r.status_code == 400, r.text
    # A 16 MiB body of tiny values costs a bounded multiple of its size, not a crash.
    r = post_otlp(skua, b"[" + b"1," * (8 * MiB - 2) + b"1]", "application/json")
    assert r.status_code in (400, 429), r.text
    assert skua.proc.poll() is None
    assert peak_rss(skua) < rss_bound()
    assert_baseline(skua, ids)


def test_a_flood_of_distinct_attributes_keeps_the_attribute_catalog_bounded(hostile):
    """Every span with new services, keys and values: autocomplete keeps answering from a
    bounded catalog, and what was stored before is untouched."""
    skua, ids = hostile
    n = 0
    with grpc.insecure_channel(skua.grpc_target) as ch:
        stub = trace_service_pb2_grpc.TraceServiceStub(ch)
        for r in range(60):
            req = trace_service_pb2.ExportTraceServiceRequest()
            for svc in range(20):
                rs = req.resource_spans.add()
                kv = rs.resource.attributes.add()
                kv.key, kv.value.string_value = "service.name", f"flood-{r}-{svc}"
                ss = rs.scope_spans.add()
                for i in range(50):
                    n += 1
                    s = ss.spans.add()
                    s.trace_id, s.span_id = tid(0xF000000 + n), (1).to_bytes(8, "big")
                    s.name = "op"
                    s.start_time_unix_nano = 1_700_000_000_000_000_000
                    s.end_time_unix_nano = 1_700_000_000_100_000_000
                    for a in range(10):
                        kv = s.attributes.add()
                        kv.key = f"key-{n}-{a}-" + "k" * 100
                        kv.value.string_value = f"value-{n}-{a}-" + "v" * 100
            stub.Export(req, timeout=30)
    # 60,000 spans, 1,200 services, 600,000 distinct keys and values: far past the bound.
    r = requests.get(skua.url("query-http", "/api/v3/attribute-keys"), params={"limit": "10000"},
                     timeout=10)
    assert r.status_code == 200, r.text
    assert 0 < len(r.json()["keys"]) <= 10000
    r = requests.get(skua.url("query-http", "/api/search/tags"), timeout=10)
    assert r.status_code == 200 and r.json()["tagNames"], r.text
    assert skua.proc.poll() is None
    assert peak_rss(skua) < rss_bound(), peak_rss(skua) / MiB
    assert_baseline(skua, ids)


@pytest.mark.parametrize("case", ["utf8_name", "utf8_service", "deep_value", "empty_key"])
def test_unstorable_content_is_refused_alike_on_every_path(hostile, case):
    skua, ids = hostile
    bad_utf8 = "caf\udce9"  # a lone surrogate: not valid UTF-8 once encoded
    if case == "utf8_name":
        doc, field = json_span(name=bad_utf8), "spans[0].name"
    elif case == "utf8_service":
        doc = json_span()
        doc["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"] = bad_utf8
        field = "resource.attributes[0].value.string_value"
    elif case == "deep_value":
        doc, field = json_span(attributes=[{"key": "deep", "value": nested_value(50)}]), "values nested deeper"
    else:
        doc, field = json_span(attributes=[{"key": "", "value": {"stringValue": "v"}}]), "attributes[0].key"
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
    r = post_otlp(skua, body, "application/json")
    assert r.status_code == 400 and field in r.json()["message"], r.text

    # The same content as protobuf, over HTTP and gRPC: refused too (the message names the
    # field where protobuf's parser itself does not refuse first).
    req = make_request([tid(0xBAD)], service="hostile")
    span = req.resource_spans[0].scope_spans[0].spans[0]
    if case == "deep_value":
        kv = span.attributes.add()
        kv.key = "deep"
        v = kv.value
        for _ in range(49):
            v = v.array_value.values.add()
        v.int_value = 1
        wire = req.SerializeToString()
    elif case == "empty_key":
        kv = span.attributes.add()
        kv.key, kv.value.string_value = "", "v"
        wire = req.SerializeToString()
    else:
        # Protobuf's own serializer refuses invalid UTF-8: patch the bytes of a valid string.
        if case == "utf8_name":
            span.name = "cafX"
        else:
            req.resource_spans[0].resource.attributes[0].value.string_value = "cafX"
        wire = req.SerializeToString().replace(b"cafX", b"caf\xe9")
    r = post_otlp(skua, wire, "application/x-protobuf")
    assert r.status_code == 400, r.text
    with grpc.insecure_channel(skua.grpc_target) as ch:
        raw = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                             request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as e:
            raw(wire, timeout=10)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value
        assert e.value.details(), "the refusal says why"

    # Nothing of it was stored, the store answers as before, and starts after kill -9.
    assert skua.get_trace("bad").status_code == 404
    services = requests.get(skua.url("query-http", "/api/services"), timeout=10)
    assert "hostile" not in services.json()["data"]
    skua.kill()
    skua.start()
    assert_baseline(skua, ids)


def test_grpc_gzip_bomb_costs_at_most_the_message_limit(hostile):
    skua, ids = hostile
    before = peak_rss(skua)
    payload = b"\x0a" + b"\x00" * (1024 * MiB)
    assert len(gzip.compress(payload[:64 * MiB])) * 16 < 2 * MiB  # ~1 MiB on the wire
    # No client-side limit: the client checks it before compressing, so the bomb would never
    # leave; gRPC's gzip makes ~1 MiB of the 1 GiB message.
    with grpc.insecure_channel(skua.grpc_target,
                               options=[("grpc.max_send_message_length", -1)]) as ch:
        raw = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                             request_serializer=lambda b: b, response_deserializer=lambda b: b)

        def send():
            try:
                raw(payload, timeout=60, compression=grpc.Compression.Gzip)
                return None
            except grpc.RpcError as e:
                return e

        errors = []
        threads = [threading.Thread(target=lambda: errors.append(send())) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for e in errors:
        assert e is not None and e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e
    assert skua.proc.poll() is None
    # Each bomb costs at most the message limit (16 MiB) inflated, twice over for the buffers
    # it passes through, and some slack — not the gibibyte it inflates to.
    grown = peak_rss(skua) - before
    assert grown < 3 * 2 * 16 * MiB + 64 * MiB, grown / MiB
    assert_baseline(skua, ids)


def test_malformed_grpc_requests_get_invalid_argument_with_a_message(hostile):
    skua, ids = hostile
    with grpc.insecure_channel(skua.grpc_target) as ch:
        raw = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                             request_serializer=lambda b: b, response_deserializer=lambda b: b)
        for garbage in (b"\xff\xff\xff", b"\x0a\x05ab", b"\x0a\xff\xff\xff\xff\x0f"):
            with pytest.raises(grpc.RpcError) as e:
                raw(garbage, timeout=10)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "ExportTraceServiceRequest" in e.value.details()
    with grpc.insecure_channel(skua.addr["query-grpc"]) as ch:
        raw = ch.unary_stream("/jaeger.api_v3.QueryService/FindTraces",
                              request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as e:
            list(raw(b"\x0a\xff\xff", timeout=10))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value
        assert "FindTraces" in e.value.details()
        raw = ch.unary_unary("/jaeger.api_v2.QueryService/GetServices",
                             request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as e:
            raw(b"\xff", timeout=10)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value
    assert_baseline(skua, ids)


def raw_http(address, data, read_timeout=10):
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=read_timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        return out


@pytest.mark.parametrize("port", ["otlp-http", "query-http", "admin"])
def test_http_framing_errors_are_answered_then_closed(hostile, port):
    skua, ids = hostile
    addr = skua.addr[port]
    cases = [
        (b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello", b"400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n", b"431"),
        (b"GET /" + b"a" * MiB + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
    ]
    for request, status in cases:
        answer = raw_http(addr, request)
        assert answer.startswith(b"HTTP/1.1 " + status), (status, answer[:200])
    assert_baseline(skua, ids)


def test_out_of_range_times_are_400s_naming_the_parameter(hostile):
    skua, ids = hostile
    q = skua.url("query-http", "")
    cases = [
        ("/api/traces", {"service": "baseline", "start": "9223372036854775807"}, "'start'"),
        ("/api/traces", {"service": "baseline", "end": "-5"}, "'end'"),
        ("/api/traces", {"service": "baseline", "minDuration": "9999999999h"}, "'minDuration'"),
        ("/api/dependencies", {"endTs": "9223372036854775807"}, "'endTs'"),
        ("/api/dependencies", {"endTs": "1", "lookback": "9223372036854775807"}, "'lookback'"),
        ("/api/v3/traces", {"query.service_name": "baseline",
                            "query.start_time_min": "1600-01-01T00:00:00Z",
                            "query.start_time_max": "2020-01-01T00:00:00Z"}, "query.start_time_min"),
        ("/api/v3/traces", {"query.service_name": "baseline",
                            "query.start_time_min": "2020-01-01T00:00:00Z",
                            "query.start_time_max": "3000-01-01T00:00:00Z"}, "query.start_time_max"),
    ]
    for path, params, name in cases:
        r = requests.get(q + path, params=params, timeout=10)
        assert r.status_code == 400, (path, params, r.text)
        assert name in r.text, (name, r.text)
    # A huge limit is served, capped at query.max_limit.
    r = requests.get(q + "/api/traces", params={"service": "baseline", "start": "0",
                                                "limit": "1000000"}, timeout=10)
    assert r.status_code == 200 and len(r.json()["data"]) == len(ids)
    assert_baseline(skua, ids)


def test_grpc_health_service_follows_readiness(hostile):
    skua, _ = hostile
    for port in ("otlp-grpc", "query-grpc"):
        with grpc.insecure_channel(skua.addr[port]) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            deadline = time.time() + 10
            status = None
            while time.time() < deadline:
                status = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    break
                time.sleep(0.2)
            assert status == health_pb2.HealthCheckResponse.SERVING, port


def test_storage_errors_never_reach_clients_with_paths(hostile):
    skua, ids = hostile
    for path in ("/api/traces/zz", "/api/traces?service=baseline&limit=x", "/api/v3/traces/zz"):
        r = requests.get(skua.url("query-http", path), timeout=10)
        assert str(skua.data_dir) not in r.text


def test_memory_stays_bounded_under_slow_bodies_large_exports_and_heavy_searches(hostile):
    skua, ids = hostile
    otlp_http = skua.addr["otlp-http"]
    host, port = otlp_http.rsplit(":", 1)
    # 40 connections each announcing a 16 MiB body and sending all of it but one byte.
    held = []
    refused = 0
    chunk = b"x" * MiB
    for _ in range(40):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                  b"Content-Length: " + str(16 * MiB).encode() + b"\r\n\r\n")
        try:
            s.settimeout(0.05)
            early = s.recv(100)
            if early.startswith(b"HTTP/1.1 429"):
                refused += 1
                s.close()
                continue
        except socket.timeout:
            pass
        s.settimeout(10)
        try:
            for _ in range(15):
                s.sendall(chunk)
            s.sendall(b"x" * (MiB - 1))
        except OSError:
            refused += 1
        held.append(s)
    assert refused >= 20, refused  # the 256 MiB budget holds about 16 of them

    # 24 concurrent 15 MiB gRPC exports.
    big = make_request([tid(0xE000 + i) for i in range(64)], payload=(15 * MiB) // 64 - 200)
    results = []

    def export():
        try:
            with grpc.insecure_channel(skua.grpc_target,
                                       options=[("grpc.max_send_message_length", 32 * MiB)]) as ch:
                trace_service_pb2_grpc.TraceServiceStub(ch).Export(big, timeout=60)
            results.append("ok")
        except grpc.RpcError as e:
            results.append(e.code())

    # Four searches asking for a million traces, while cheap calls keep being answered.
    def search():
        r = requests.get(skua.url("query-http", "/api/traces"),
                         params={"service": "baseline", "start": "0", "limit": "1000000"}, timeout=60)
        results.append(r.status_code)

    threads = [threading.Thread(target=export) for _ in range(24)]
    threads += [threading.Thread(target=search) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(5):
        r = requests.get(skua.url("query-http", "/api/services"), timeout=10)
        assert r.status_code == 200
    for t in threads:
        t.join()
    for s in held:
        s.close()
    assert skua.proc.poll() is None
    assert all(r in ("ok", 200, grpc.StatusCode.RESOURCE_EXHAUSTED) for r in results), results
    assert peak_rss(skua) < rss_bound(), peak_rss(skua) / MiB
    deadline = time.time() + 10
    while time.time() < deadline and metric_value(skua.metrics(), "skua_ingest_inflight_bytes"):
        time.sleep(0.1)
    inflight = metric_value(skua.metrics(), "skua_ingest_inflight_bytes")
    assert inflight == 0, f"{inflight} bytes still reserved after every client left"
    assert_baseline(skua, ids)
    skua.kill()
    skua.start()
    assert_baseline(skua, ids)


def test_running_out_of_descriptors_is_survived_and_reported(skua_factory):
    """Under `prlimit --nofile=256`, idle HTTP sockets exhaust the descriptors: listeners back
    off (a few log lines, not millions), /readyz says which cannot accept, and every listener
    accepts again once the sockets close."""
    skua = skua_factory(["--storage.shards=1"], wrapper=["prlimit", "--nofile=256:256", "--"]).start()
    ids = baseline(skua)
    admin = requests.Session()  # one kept-alive connection: it needs no new descriptor
    assert admin.get(skua.url("admin", "/readyz"), timeout=5).status_code == 200
    host, port = skua.addr["otlp-http"].rsplit(":", 1)
    idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(300)]
    deadline = time.time() + 10
    r = admin.get(skua.url("admin", "/readyz"), timeout=5)
    while time.time() < deadline and r.status_code == 200:
        time.sleep(0.2)
        r = admin.get(skua.url("admin", "/readyz"), timeout=5)
    assert r.status_code == 503 and "otlp-http cannot accept connections" in r.text, r.text
    # The gRPC listeners meet the same wall: a connection waits in the backlog, unanswered.
    for name in ("otlp-grpc", "query-grpc"):
        with grpc.insecure_channel(skua.addr[name]) as ch:
            with pytest.raises(grpc.FutureTimeoutError):
                grpc.channel_ready_future(ch).result(timeout=1.5)
    time.sleep(2)  # exhausted for a while: the accept loops must not spin or flood the log
    assert skua.proc.poll() is None
    r = admin.get(skua.url("admin", "/readyz"), timeout=5)
    assert r.status_code == 503 and "cannot accept connections" in r.text, r.text
    for s in idle:
        s.close()
    deadline = time.time() + 20
    while time.time() < deadline and admin.get(skua.url("admin", "/readyz"), timeout=5).status_code != 200:
        time.sleep(0.2)
    assert admin.get(skua.url("admin", "/readyz"), timeout=5).status_code == 200
    # Every port accepts again: both gRPC ports, both HTTP ports.
    with grpc.insecure_channel(skua.grpc_target) as ch:
        trace_service_pb2_grpc.TraceServiceStub(ch).Export(make_request([tid(0xC0DE)]), timeout=10)
    with grpc.insecure_channel(skua.addr["query-grpc"]) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        deadline = time.time() + 10  # the health service follows readiness within a second
        while time.time() < deadline and stub.Check(
                health_pb2.HealthCheckRequest(), timeout=10).status != health_pb2.HealthCheckResponse.SERVING:
            time.sleep(0.2)
        assert stub.Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
            health_pb2.HealthCheckResponse.SERVING
    r = post_otlp(skua, make_request([tid(0xC0DF)]).SerializeToString(), "application/x-protobuf")
    assert r.status_code == 200, r.text
    assert skua.get_trace("c0de").status_code == 200
    assert_baseline(skua, ids)
    accept_lines = [l for l in skua.log().splitlines() if "accept failed" in l]
    assert 1 <= len(accept_lines) <= 10, accept_lines
    assert any("otlp-grpc: accept failed" in l for l in accept_lines), accept_lines
