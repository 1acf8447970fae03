"""Jaeger's gRPC query services on the query gRPC port, api_v3 and api_v2: a real gRPC client
built from the repository's .proto files (compiled by protoc at test time), against the dataset
of the HTTP golden tests; their answers must be the HTTP API's (api_v3 gateway, v1 JSON)."""

import base64
import subprocess

import grpc
import pytest
import requests
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from conftest import REPO, metric_value
# `loaded`: a Skua holding the golden dataset, shared with the HTTP golden tests.
from test_query_api import T0, S, TRACE_A, TRACE_C, V3_WINDOW, loaded  # noqa: F401

SERVICE = "/jaeger.api_v3.QueryService/"
SERVICE_V2 = "/jaeger.api_v2.QueryService/"


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    out = tmp_path_factory.mktemp("proto") / "query.pb"
    subprocess.run(["protoc", f"-I{REPO / 'proto'}", "-I/usr/include", "--include_imports",
                    f"--descriptor_set_out={out}", "jaeger/api_v3/query_service.proto",
                    "jaeger/api_v2/query.proto"], check=True)
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    p = descriptor_pool.DescriptorPool()
    for f in files.file:
        p.Add(f)
    return p


def message_classes(pool, package, names):
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{n}"))
            for n in names}


@pytest.fixture(scope="module")
def api(pool):
    """Message classes of jaeger.api_v3 (and the OTLP messages it uses), by short name."""
    classes = message_classes(pool, "jaeger.api_v3", [
        "GetTraceRequest", "FindTracesRequest", "GetServicesRequest", "GetServicesResponse",
        "GetOperationsRequest", "GetOperationsResponse"])
    classes["TracesData"] = message_classes(pool, "opentelemetry.proto.trace.v1", ["TracesData"])["TracesData"]
    return classes


@pytest.fixture(scope="module")
def v2(pool):
    """Message classes of jaeger.api_v2, by short name."""
    return message_classes(pool, "jaeger.api_v2", [
        "GetTraceRequest", "SpansResponseChunk", "ArchiveTraceRequest", "ArchiveTraceResponse",
        "FindTracesRequest", "GetServicesRequest", "GetServicesResponse", "GetOperationsRequest",
        "GetOperationsResponse", "GetDependenciesRequest", "GetDependenciesResponse"])


@pytest.fixture(scope="module")
def channel(loaded):
    with grpc.insecure_channel(loaded.addr["query-grpc"]) as ch:
        yield ch


def unary(channel, classes, method, request, response, service=SERVICE):
    return channel.unary_unary(service + method, request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=classes[response].FromString)(request, timeout=10)


def stream(channel, classes, method, request, service=SERVICE, response="TracesData"):
    """Every message of a server-streaming call."""
    call = channel.unary_stream(service + method, request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=classes[response].FromString)
    return list(call(request, timeout=10))


def trace_ids(traces):
    """Per TracesData message, the one trace ID its spans carry."""
    out = []
    for td in traces:
        ids = {s.trace_id.hex() for rs in td.resource_spans for ss in rs.scope_spans for s in ss.spans}
        assert len(ids) == 1, ids
        out.append(ids.pop())
    return out


def span_ids(td):
    return sorted(s.span_id.hex() for rs in td.resource_spans for ss in rs.scope_spans for s in ss.spans)


def find_request(classes, window_s, **query):
    """A FindTracesRequest (of either API version) over [T0, T0 + window_s)."""
    req = classes["FindTracesRequest"]()
    req.query.start_time_min.FromNanoseconds(T0)
    req.query.start_time_max.FromNanoseconds(T0 + window_s * S)
    for k, v in query.items():
        if k in ("attributes", "tags"):
            getattr(req.query, k).update(v)
        elif k == "duration_min":
            req.query.duration_min.FromNanoseconds(v)
        else:
            setattr(req.query, k, v)
    return req


def find(channel, api, **query):
    return stream(channel, api, "FindTraces", find_request(api, 120, **query))


def http_v3_trace_ids(loaded, query):
    r = requests.get(loaded.url("query-http", f"/api/v3/traces?{query}&{V3_WINDOW}"), timeout=10)
    if r.status_code == 404:
        return []
    assert r.status_code == 200, r.text
    seen = []
    for rs in r.json()["result"]["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                if s["traceId"] not in seen:
                    seen.append(s["traceId"])
    return seen


def test_services_and_operations(channel, api):
    r = unary(channel, api, "GetServices", api["GetServicesRequest"](), "GetServicesResponse")
    assert list(r.services) == ["driver", "frontend", "redis"]
    r = unary(channel, api, "GetOperations", api["GetOperationsRequest"](service="frontend"),
              "GetOperationsResponse")
    assert sorted((o.name, o.span_kind) for o in r.operations) == [
        ("GET /config", "server"), ("GET /dispatch", "server"), ("HTTP GET /driver", "client")]
    r = unary(channel, api, "GetOperations",
              api["GetOperationsRequest"](service="frontend", span_kind="client"), "GetOperationsResponse")
    assert [(o.name, o.span_kind) for o in r.operations] == [("HTTP GET /driver", "client")]
    r = unary(channel, api, "GetOperations", api["GetOperationsRequest"](), "GetOperationsResponse")
    assert list(r.operations) == []


def test_get_trace_returns_the_stored_spans(channel, api):
    (td,) = stream(channel, api, "GetTrace", api["GetTraceRequest"](trace_id=TRACE_A))
    assert trace_ids([td]) == [TRACE_A]
    assert span_ids(td) == [f"{i:016x}" for i in (1, 2, 3, 4)]
    spans = {s.name: s for rs in td.resource_spans for ss in rs.scope_spans for s in ss.spans}
    assert spans["GetDriver"].parent_span_id.hex() == f"{3:016x}"
    assert spans["GetDriver"].status.code == 2
    assert spans["FindDriverIDs"].events[0].name == "found"
    services = {kv.value.string_value for rs in td.resource_spans for kv in rs.resource.attributes
                if kv.key == "service.name"}
    assert services == {"frontend", "driver", "redis"}
    # A 64-bit ID, written short as Jaeger allows.
    (td,) = stream(channel, api, "GetTrace", api["GetTraceRequest"](trace_id="c3"))
    assert trace_ids([td]) == [TRACE_C.rjust(32, "0")]


def test_get_trace_missing_and_malformed(channel, api):
    assert stream(channel, api, "GetTrace", api["GetTraceRequest"](trace_id="abcdef")) == []
    with pytest.raises(grpc.RpcError) as e:
        stream(channel, api, "GetTrace", api["GetTraceRequest"](trace_id="not-hex!"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "trace_id" in e.value.details()


@pytest.mark.parametrize("query,http", [
    ({"service_name": "frontend"}, "query.serviceName=frontend"),
    ({"service_name": "driver", "duration_min": 100_000_000}, "query.serviceName=driver&query.durationMin=100ms"),
    ({"attributes": {"driver.id": "T7"}}, "query.attributes=%7B%22driver.id%22%3A%22T7%22%7D"),
    ({"attributes": {"redis.key": "T7", "error": "true"}},
     "query.attributes=%7B%22redis.key%22%3A%22T7%22%2C%22error%22%3A%22true%22%7D"),
    ({"service_name": "frontend", "operation_name": "GET /config"},
     "query.serviceName=frontend&query.operationName=GET%20/config"),
    ({"service_name": "frontend", "search_depth": 1}, "query.serviceName=frontend&query.searchDepth=1"),
    ({"service_name": "nobody"}, "query.serviceName=nobody"),
])
def test_find_traces_answers_as_the_http_gateway(channel, api, loaded, query, http):
    traces = find(channel, api, **query)
    assert trace_ids(traces) == http_v3_trace_ids(loaded, http)
    for td in traces:  # whole traces, as GetTrace returns them
        (whole,) = stream(channel, api, "GetTrace", api["GetTraceRequest"](trace_id=trace_ids([td])[0]))
        assert span_ids(td) == span_ids(whole)


def test_find_traces_bad_requests_name_the_field(channel, api):
    cases = []
    cases.append((api["FindTracesRequest"](), "missing query"))
    req = api["FindTracesRequest"]()
    req.query.service_name = "frontend"
    cases.append((req, "query.start_time_min"))
    req = api["FindTracesRequest"]()
    req.query.start_time_min.FromNanoseconds(T0 + S)
    req.query.start_time_max.FromNanoseconds(T0)
    cases.append((req, "query.start_time_min must be before"))
    req = api["FindTracesRequest"]()
    req.query.start_time_min.FromNanoseconds(T0)
    req.query.start_time_max.FromNanoseconds(T0 + S)
    req.query.duration_min.FromNanoseconds(-5)
    cases.append((req, "query.duration_min"))
    for req, text in cases:
        with pytest.raises(grpc.RpcError) as e:
            stream(channel, api, "FindTraces", req)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert text in e.value.details()


def test_calls_are_counted(channel, api, loaded):
    before = metric_value(loaded.metrics(), "skua_query_requests_total",
                          route=SERVICE + "GetServices", code="OK")
    unary(channel, api, "GetServices", api["GetServicesRequest"](), "GetServicesResponse")
    after = metric_value(loaded.metrics(), "skua_query_requests_total",
                         route=SERVICE + "GetServices", code="OK")
    assert after == before + 1


# ---- api_v2 ----

def v2_unary(channel, v2, method, request, response):
    return unary(channel, v2, method, request, response, service=SERVICE_V2)


def v2_stream(channel, v2, method, request):
    return stream(channel, v2, method, request, service=SERVICE_V2, response="SpansResponseChunk")


def jaeger_trace_id(raw):
    h = raw.hex()
    return h[16:] if h[:16] == "0" * 16 else h


V_TYPES = {0: "string", 1: "bool", 2: "int64", 3: "float64", 4: "binary"}


def as_v1_tag(kv):
    t = V_TYPES[kv.v_type]
    value = {"string": kv.v_str, "bool": kv.v_bool, "int64": kv.v_int64, "float64": kv.v_float64,
             "binary": base64.b64encode(kv.v_binary).decode()}[t]
    return {"key": kv.key, "type": t, "value": value}


def micros(ts):
    return ts.seconds * 1_000_000 + ts.nanos // 1000


def as_v1_span(span):
    """A model span in the shape of the v1 JSON span (process inline instead of by ID)."""
    return {
        "traceID": jaeger_trace_id(span.trace_id), "spanID": span.span_id.hex(),
        "operationName": span.operation_name,
        "references": [{"refType": ["CHILD_OF", "FOLLOWS_FROM"][r.ref_type],
                        "traceID": jaeger_trace_id(r.trace_id), "spanID": r.span_id.hex()}
                       for r in span.references],
        "startTime": micros(span.start_time), "duration": micros(span.duration),
        "tags": [as_v1_tag(kv) for kv in span.tags],
        "logs": [{"timestamp": micros(l.timestamp), "fields": [as_v1_tag(f) for f in l.fields]}
                 for l in span.logs],
        "process": {"serviceName": span.process.service_name,
                    "tags": [as_v1_tag(kv) for kv in span.process.tags]},
        "warnings": list(span.warnings) or None,
    }


def http_v1_spans(loaded, path):
    r = requests.get(loaded.url("query-http", path), timeout=10)
    assert r.status_code == 200, r.text
    out = []
    for trace in r.json()["data"]:
        for s in trace["spans"]:
            s = dict(s)
            s["process"] = trace["processes"][s.pop("processID")]
            out.append(s)
    return out


def chunk_spans(chunks):
    spans = [s for c in chunks for s in c.spans]
    assert all(len(c.spans) <= 10 for c in chunks)
    return spans


def test_v2_get_trace_is_the_v1_json_trace(channel, v2, loaded):
    for trace_id in [TRACE_A, TRACE_C.rjust(32, "0")]:
        chunks = v2_stream(channel, v2, "GetTrace", v2["GetTraceRequest"](trace_id=bytes.fromhex(trace_id)))
        got = sorted((as_v1_span(s) for s in chunk_spans(chunks)), key=lambda s: s["spanID"])
        want = sorted(http_v1_spans(loaded, f"/api/traces/{trace_id}"), key=lambda s: s["spanID"])
        assert got == want


def test_v2_get_trace_errors(channel, v2):
    # A 64-bit ID may be sent as 8 bytes (Jaeger itself wants 16).
    (chunk,) = v2_stream(channel, v2, "GetTrace", v2["GetTraceRequest"](trace_id=bytes.fromhex("00000000000000c3")))
    assert jaeger_trace_id(chunk.spans[0].trace_id) == "00000000000000c3"
    cases = [(bytes(16), grpc.StatusCode.INVALID_ARGUMENT, "uninitialized"),
             (bytes.fromhex("00000000c3"), grpc.StatusCode.INVALID_ARGUMENT, "trace_id"),
             (bytes.fromhex("abcdef".rjust(32, "0")), grpc.StatusCode.NOT_FOUND, "trace not found")]
    for raw, code, text in cases:
        with pytest.raises(grpc.RpcError) as e:
            v2_stream(channel, v2, "GetTrace", v2["GetTraceRequest"](trace_id=raw))
        assert e.value.code() == code and text in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        v2_unary(channel, v2, "ArchiveTrace", v2["ArchiveTraceRequest"](trace_id=bytes.fromhex(TRACE_A)),
                 "ArchiveTraceResponse")
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.parametrize("tags,v1", [
    ({"service_name": "frontend"}, "service=frontend"),
    ({"service_name": "driver", "tags": {"driver.id": "T9"}}, "service=driver&tag=driver.id:T9"),
    ({"service_name": "frontend", "duration_min": 1_000_000_000}, "service=frontend&minDuration=1s"),
])
def test_v2_find_traces_answers_as_v1(channel, v2, loaded, tags, v1):
    req = find_request(v2, 60, **tags)
    got = sorted((as_v1_span(s) for s in chunk_spans(v2_stream(channel, v2, "FindTraces", req))),
                 key=lambda s: s["spanID"])
    window = f"start={T0 // 1000}&end={(T0 + 60 * S) // 1000}"
    want = sorted(http_v1_spans(loaded, f"/api/traces?{v1}&{window}"), key=lambda s: s["spanID"])
    assert got and got == want


def test_v2_services_operations_dependencies(channel, v2, loaded):
    r = v2_unary(channel, v2, "GetServices", v2["GetServicesRequest"](), "GetServicesResponse")
    assert list(r.services) == ["driver", "frontend", "redis"]
    r = v2_unary(channel, v2, "GetOperations", v2["GetOperationsRequest"](service="frontend"),
                 "GetOperationsResponse")
    assert [(o.name, o.span_kind) for o in r.operations] == [
        ("GET /config", "server"), ("GET /dispatch", "server"), ("HTTP GET /driver", "client")]
    assert list(r.operationNames) == ["GET /config", "GET /dispatch", "HTTP GET /driver"]
    req = v2["GetDependenciesRequest"]()
    req.start_time.FromNanoseconds(T0 - 60 * S)
    req.end_time.FromNanoseconds(T0 + 60 * S)
    r = v2_unary(channel, v2, "GetDependencies", req, "GetDependenciesResponse")
    got = sorted((d.parent, d.child, d.call_count) for d in r.dependencies)
    http = requests.get(loaded.url("query-http", f"/api/dependencies?endTs={(T0 + 60 * S) // 1_000_000}"
                                                 f"&lookback=120000"), timeout=10).json()["data"]
    assert got and got == sorted((d["parent"], d["child"], d["callCount"]) for d in http)
    with pytest.raises(grpc.RpcError) as e:
        v2_unary(channel, v2, "GetDependencies", v2["GetDependenciesRequest"](), "GetDependenciesResponse")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
