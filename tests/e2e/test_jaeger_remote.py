"""Skua as the storage of a real Jaeger v2 (v1.76.0, built once by scripts/jaeger.sh): Jaeger's
own storage integration suite for remote gRPC backends, and a Jaeger in front of Skua answering
the same api_v3 HTTP and gRPC queries with the same traces as Skua's own endpoints."""

import json
import os
import subprocess
import time

import grpc
import pytest
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from conftest import REPO, free_ports, start_jaeger
from test_query_api import T0, S, TRACE_A, TRACE_B, TRACE_C, attr, dataset

JAEGER_CONFIG = """
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:{health}
  jaeger_query:
    storage:
      traces: skua
    http:
      endpoint: 127.0.0.1:{query_http}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
  jaeger_storage:
    backends:
      skua:
        grpc:
          endpoint: {skua_query_grpc}
          tls:
            insecure: true
          writer:
            endpoint: {skua_otlp_grpc}
            tls:
              insecure: true
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{otlp_grpc}
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: skua
"""


def test_jaeger_storage_integration_suite(skua_factory):
    """Jaeger's TestGRPCStorage, run by the repository's script against this build."""
    out = subprocess.run([str(REPO / "scripts" / "jaeger-storage-suite.sh"),
                          os.environ.get("SKUA_BIN", str(REPO / "build" / "skua"))],
                         capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-8000:]
    assert "--- PASS: TestGRPCStorage " in out.stdout
    assert "--- SKIP" not in out.stdout


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A Skua holding the golden dataset, and a Jaeger v2 using it as its storage."""
    from conftest import Skua

    tmp = tmp_path_factory.mktemp("jaeger-remote")
    skua = Skua(tmp / "data", tmp).start()
    r = requests.post(skua.url("otlp-http", "/v1/traces"), data=dataset().SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert r.status_code == 200
    health, query_http, query_grpc, otlp_grpc = free_ports(4)
    config = tmp / "jaeger.yaml"
    config.write_text(JAEGER_CONFIG.format(
        health=health, query_http=query_http, query_grpc=query_grpc, otlp_grpc=otlp_grpc,
        skua_query_grpc=skua.addr["query-grpc"], skua_otlp_grpc=skua.addr["otlp-grpc"]))
    try:
        jaeger = start_jaeger(config, tmp / "jaeger.log", health)
    except RuntimeError:
        skua.stop()
        raise
    jaeger.http = f"http://127.0.0.1:{query_http}"
    jaeger.grpc = f"127.0.0.1:{query_grpc}"
    jaeger.otlp = f"127.0.0.1:{otlp_grpc}"
    try:
        yield skua, jaeger
    finally:
        jaeger.terminate()
        jaeger.wait(timeout=30)
        skua.stop()


def normalized(body):
    """An api_v3 JSON answer with its resourceSpans in a stable order (storages may group a
    trace's spans differently; the spans and what they carry must be the same)."""
    def key(rs):
        return json.dumps(rs, sort_keys=True)
    if "result" in body:
        body["result"]["resourceSpans"] = sorted(body["result"]["resourceSpans"], key=key)
    return body


WINDOW = {"query.start_time_min": "2023-11-14T22:13:00Z", "query.start_time_max": "2023-11-14T22:15:00Z"}
HTTP_QUERIES = [
    ("/api/v3/services", {}),
    ("/api/v3/operations", {"service": "frontend"}),
    ("/api/v3/operations", {"service": "driver", "span_kind": "server"}),
    (f"/api/v3/traces/{TRACE_A}", {}),
    (f"/api/v3/traces/{TRACE_B}", {}),
    (f"/api/v3/traces/{TRACE_C.rjust(32, '0')}", {}),
    (f"/api/v3/traces/{TRACE_A}", {"raw_traces": "true"}),
    ("/api/v3/traces", {"query.service_name": "frontend", **WINDOW}),
    ("/api/v3/traces", {"query.service_name": "driver", "query.operation_name": "FindDriverIDs", **WINDOW}),
    ("/api/v3/traces", {"query.service_name": "frontend", "query.duration_min": "1s", **WINDOW}),
    ("/api/v3/traces", {"query.service_name": "frontend", "query.duration_max": "100ms", **WINDOW}),
    ("/api/v3/traces", {"query.service_name": "frontend", "query.num_traces": "1", **WINDOW}),
    ("/api/v3/traces", {"query.service_name": "frontend", "query.raw_traces": "true", **WINDOW}),
]
# Jaeger's HTTP gateway takes no attributes (its grpc-gateway mapping cannot express them): the
# attribute searches are compared over gRPC below.


@pytest.mark.parametrize("path,params", HTTP_QUERIES, ids=[f"{p}?{q}" for p, q in HTTP_QUERIES])
def test_jaeger_in_front_answers_http_as_skua(pair, path, params):
    skua, jaeger = pair
    mine = requests.get(skua.url("query-http", path), params=params, timeout=10)
    theirs = requests.get(jaeger.http + path, params=params, timeout=10)
    assert mine.status_code == theirs.status_code == 200, (mine.text, theirs.text)
    assert normalized(mine.json()) == normalized(theirs.json())


# Where Skua's answers once differed from Jaeger's: malformed and over-long trace IDs (no base64
# fallback), the wording of missing api_v3 times, and `null` operations for an unknown service.
EDGE_QUERIES = [
    ("/api/traces/xyz-not-hex", {}),
    ("/api/traces/" + "a" * 33, {}),
    ("/api/traces/zz000000000000000001", {}),
    ("/api/traces", {"traceID": "xyz"}),
    ("/api/v3/traces/xyz-not-hex", {}),
    ("/api/v3/traces/" + "a" * 33, {}),
    ("/api/v3/traces", {"query.service_name": "frontend"}),
    ("/api/services/nobody/operations", {}),
]


@pytest.mark.parametrize("path,params", EDGE_QUERIES, ids=[f"{p}?{q}" for p, q in EDGE_QUERIES])
def test_jaeger_in_front_answers_edges_as_skua(pair, path, params):
    skua, jaeger = pair
    mine = requests.get(skua.url("query-http", path), params=params, timeout=10)
    theirs = requests.get(jaeger.http + path, params=params, timeout=10)
    assert mine.status_code == theirs.status_code, (mine.text, theirs.text)
    assert mine.json() == theirs.json()


def grpc_messages(target, method, request, response_class):
    with grpc.insecure_channel(target) as ch:
        call = ch.unary_stream(method, request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=response_class.FromString)
        return list(call(request, timeout=10))


def test_jaeger_in_front_answers_grpc_as_skua(pair):
    """api_v3 over gRPC: the same traces (span for span, with resource and scope) from both."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    skua, jaeger = pair
    out = subprocess.run(["protoc", f"-I{REPO / 'proto'}", "-I/usr/include", "--include_imports",
                          "--descriptor_set_out=/dev/stdout", "jaeger/api_v3/query_service.proto"],
                         check=True, capture_output=True).stdout
    pool = descriptor_pool.DescriptorPool()
    for f in descriptor_pb2.FileDescriptorSet.FromString(out).file:
        pool.Add(f)

    def cls(name):
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
    traces_data = cls("opentelemetry.proto.trace.v1.TracesData")

    def spans(messages):
        out = []
        for td in messages:
            for rs in td.resource_spans:
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        # Jaeger's pdata always writes a span's status, empty or not; proto3
                        # reads an empty message and none alike.
                        if s.HasField("status") and s.status.ByteSize() == 0:
                            s.ClearField("status")
                        out.append((rs.resource.SerializeToString(deterministic=True),
                                    ss.scope.SerializeToString(deterministic=True),
                                    s.SerializeToString(deterministic=True)))
        return sorted(out)

    method = "/jaeger.api_v3.QueryService/"
    for tid in [TRACE_A, TRACE_B, TRACE_C.rjust(32, "0")]:
        req = cls("jaeger.api_v3.GetTraceRequest")(trace_id=tid)
        mine = spans(grpc_messages(skua.addr["query-grpc"], method + "GetTrace", req, traces_data))
        theirs = spans(grpc_messages(jaeger.grpc, method + "GetTrace", req, traces_data))
        assert mine and mine == theirs, tid
    searches = [("frontend", {}), ("driver", {}), ("redis", {}), ("driver", {"driver.id": "T9"}),
                ("redis", {"error": "true"}), ("driver", {"ratio": "0.5"}),
                ("frontend", {"http.status_code": "200"})]
    for service, attributes in searches:
        q = cls("jaeger.api_v3.TraceQueryParameters")(service_name=service)
        for k, v in attributes.items():
            q.attributes[k] = v
        q.start_time_min.FromNanoseconds(T0)
        q.start_time_max.FromNanoseconds(T0 + 60 * S)
        req = cls("jaeger.api_v3.FindTracesRequest")(query=q)
        mine = spans(grpc_messages(skua.addr["query-grpc"], method + "FindTraces", req, traces_data))
        theirs = spans(grpc_messages(jaeger.grpc, method + "FindTraces", req, traces_data))
        assert mine and mine == theirs, (service, attributes)


def test_writes_through_jaeger_land_in_skua(pair):
    """Jaeger's collector pipeline writes over OTLP to Skua: what it accepts, Skua serves."""
    skua, jaeger = pair
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    attr(rs.resource.attributes, "service.name", "via-jaeger")
    s = rs.scope_spans.add().spans.add(trace_id=bytes.fromhex("9a" * 16), span_id=bytes.fromhex("01" * 8),
                                       name="relayed", kind=2)
    s.start_time_unix_nano = int(time.time() * 1e9)
    s.end_time_unix_nano = s.start_time_unix_nano + 1000
    with grpc.insecure_channel(jaeger.otlp) as ch:
        ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                       request_serializer=lambda m: m.SerializeToString(),
                       response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString)(
            req, timeout=10)
    deadline = time.time() + 30
    while skua.get_trace("9a" * 16, version="v3").status_code != 200:
        assert time.time() < deadline, "the span Jaeger accepted never reached Skua"
        time.sleep(0.2)
    body = skua.get_trace("9a" * 16, version="v3").json()
    assert body["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] == "relayed"


def test_jaeger_forwards_the_tenant(skua_factory, tmp_path):
    """Jaeger with multi_tenancy on passes each query's tenant header on to Skua, which answers
    with that tenant's data only; without one, Jaeger refuses the query itself."""
    skua = skua_factory(["--tenancy.enabled=true", "--tenancy.tenants=acme,globex"]).start()
    for tenant in ["acme", "globex"]:
        req = dataset()
        for rs in req.resource_spans:
            for kv in rs.resource.attributes:
                if kv.key == "service.name":
                    kv.value.string_value = f"{tenant}-{kv.value.string_value}"
        r = requests.post(skua.url("otlp-http", "/v1/traces"), data=req.SerializeToString(), timeout=10,
                          headers={"Content-Type": "application/x-protobuf", "x-tenant": tenant})
        assert r.status_code == 200
    health, query_http, query_grpc, otlp_grpc = free_ports(4)
    tenancy = "\n".join(["", "    multi_tenancy:", "      Enabled: true", "      Header: x-tenant",
                         "      Tenants: [acme, globex]"])
    config = JAEGER_CONFIG.format(
        health=health, query_http=query_http, query_grpc=query_grpc, otlp_grpc=otlp_grpc,
        skua_query_grpc=skua.addr["query-grpc"], skua_otlp_grpc=skua.addr["otlp-grpc"])
    config = config.replace("  jaeger_query:\n", "  jaeger_query:" + tenancy + "\n", 1)
    config = config.replace("        grpc:\n          endpoint: " + skua.addr["query-grpc"],
                            "        grpc:" + tenancy.replace("\n    ", "\n          ") +
                            "\n          endpoint: " + skua.addr["query-grpc"], 1)
    (tmp_path / "jaeger.yaml").write_text(config)
    jaeger = start_jaeger(tmp_path / "jaeger.yaml", tmp_path / "jaeger.log", health)
    try:
        base = f"http://127.0.0.1:{query_http}"
        for tenant in ["acme", "globex"]:
            services = requests.get(f"{base}/api/v3/services", headers={"x-tenant": tenant}, timeout=10).json()
            assert services["services"] == [f"{tenant}-driver", f"{tenant}-frontend", f"{tenant}-redis"]
            trace = requests.get(f"{base}/api/v3/traces/{TRACE_A}", headers={"x-tenant": tenant}, timeout=10).json()
            names = {kv["value"]["stringValue"] for rs in trace["result"]["resourceSpans"]
                     for kv in rs["resource"]["attributes"] if kv["key"] == "service.name"}
            assert names == {f"{tenant}-frontend", f"{tenant}-driver", f"{tenant}-redis"}
        assert requests.get(f"{base}/api/v3/services", timeout=10).status_code == 401
    finally:
        jaeger.terminate()
        jaeger.wait(timeout=30)
