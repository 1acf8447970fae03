"""Jaeger's api_v3 gRPC query service on the query gRPC port: a real gRPC client built from the
repository's .proto (compiled by protoc at test time), against the dataset of the HTTP golden
tests; its answers must be the HTTP api_v3 gateway's."""

import subprocess

import grpc
import pytest
import requests
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from conftest import REPO, metric_value
# `loaded`: a Skua holding the golden dataset, shared with the HTTP golden tests.
from test_query_api import T0, S, TRACE_A, TRACE_C, V3_WINDOW, loaded  # noqa: F401

SERVICE = "/jaeger.api_v3.QueryService/"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """Message classes of jaeger.api_v3 (and the OTLP messages it uses), by short name."""
    out = tmp_path_factory.mktemp("proto") / "api_v3.pb"
    subprocess.run(["protoc", f"-I{REPO / 'proto'}", "-I/usr/include", "--include_imports",
                    f"--descriptor_set_out={out}", "jaeger/api_v3/query_service.proto"], check=True)
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in files.file:
        pool.Add(f)
    names = ["GetTraceRequest", "FindTracesRequest", "GetServicesRequest", "GetServicesResponse",
             "GetOperationsRequest", "GetOperationsResponse"]
    classes = {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"jaeger.api_v3.{n}"))
               for n in names}
    classes["TracesData"] = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("opentelemetry.proto.trace.v1.TracesData"))
    return classes


@pytest.fixture(scope="module")
def channel(loaded):
    with grpc.insecure_channel(loaded.addr["query-grpc"]) as ch:
        yield ch


def unary(channel, api, method, request, response):
    return channel.unary_unary(SERVICE + method, request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=api[response].FromString)(request, timeout=10)


def stream(channel, api, method, request):
    call = channel.unary_stream(SERVICE + method, request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=api["TracesData"].FromString)
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


def find(channel, api, **query):
    req = api["FindTracesRequest"]()
    req.query.start_time_min.FromNanoseconds(T0)
    req.query.start_time_max.FromNanoseconds(T0 + 120 * S)
    for k, v in query.items():
        if k == "attributes":
            req.query.attributes.update(v)
        elif k == "duration_min":
            req.query.duration_min.FromNanoseconds(v)
        else:
            setattr(req.query, k, v)
    return stream(channel, api, "FindTraces", req)


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
