"""Jaeger v2's remote storage API (jaeger.storage.v2) on the query gRPC port: a real gRPC client
built from the repository's .proto files, checked against Skua's own query APIs on the same
data, and against every rule of the protos' contract (chunking, IDs not found, empty streams,
refusal of what is not served, tenants). Jaeger's own suite and the side-by-side comparison
with a real Jaeger in front of Skua are in test_jaeger_remote.py."""

import subprocess

import grpc
import pytest
import requests
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from conftest import REPO, metric_value
from test_query_api import T0, S, TRACE_A, TRACE_C, attr, loaded  # noqa: F401

READER = "/jaeger.storage.v2.TraceReader/"
DEPS = "/jaeger.storage.v2.DependencyReader/"
CAPS = "/jaeger.storage.v2.Capabilities/"
V3 = "/jaeger.api_v3.QueryService/"
V2 = "/jaeger.api_v2.QueryService/"
GO_ZERO_TIME = -62135596800  # what Jaeger's Go client sends for an unset time (year 1)
MIB = 1 << 20


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    """Message classes by full name."""
    out = tmp_path_factory.mktemp("proto") / "storage.pb"
    subprocess.run(["protoc", f"-I{REPO / 'proto'}", "-I/usr/include", "--include_imports",
                    f"--descriptor_set_out={out}", "jaeger/storage/v2/trace_storage.proto",
                    "jaeger/storage/v2/dependency_storage.proto",
                    "jaeger/storage/v2/capabilities.proto", "jaeger/api_v3/query_service.proto",
                    "jaeger/api_v2/query.proto"], check=True)
    pool = descriptor_pool.DescriptorPool()
    for f in descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file:
        pool.Add(f)

    class Classes:
        def __getattr__(self, name):
            package, _, short = name.rpartition("_")
            full = {"s": "jaeger.storage.v2", "v3": "jaeger.api_v3", "v2": "jaeger.api_v2",
                    "otlp": "opentelemetry.proto.trace.v1"}[package]
            return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{full}.{short}"))
    return Classes()


def unary(channel, method, request, response_class, metadata=None, timeout=10):
    call = channel.unary_unary(method, request_serializer=lambda x: x.SerializeToString(),
                               response_deserializer=response_class.FromString)
    return call(request, timeout=timeout, metadata=metadata)


def stream(channel, method, request, response_class, metadata=None, timeout=10, raw=False):
    """Every message of a server-streaming call (as bytes too when `raw`)."""
    call = channel.unary_stream(method, request_serializer=lambda x: x.SerializeToString(),
                                response_deserializer=(lambda b: (b, response_class.FromString(b)))
                                if raw else response_class.FromString)
    return list(call(request, timeout=timeout, metadata=metadata))


def spans_of(td):
    return [s for rs in td.resource_spans for ss in rs.scope_spans for s in ss.spans]


def trace_of(td):
    ids = {s.trace_id.hex() for s in spans_of(td)}
    assert len(ids) == 1, f"a message mixes traces: {ids}"
    return ids.pop()


def by_trace(messages):
    """{trace ID: sorted (span ID, name)}, checking that each trace's messages are consecutive."""
    out, order = {}, []
    for td in messages:
        assert spans_of(td), "an empty TracesData message"
        t = trace_of(td)
        if not order or order[-1] != t:
            assert t not in out, f"the messages of trace {t} are not consecutive"
            order.append(t)
        out.setdefault(t, []).extend((s.span_id.hex(), s.name) for s in spans_of(td))
    return {t: sorted(v) for t, v in out.items()}, order


def query(m, service="", window=(T0, T0 + 60 * S), **fields):
    q = m.s_TraceQueryParameters(service_name=service, **fields)
    if window:
        q.start_time_min.FromNanoseconds(window[0])
        q.start_time_max.FromNanoseconds(window[1])
    return q


def v3_query(m, service="", window=(T0, T0 + 60 * S), attributes=None, **fields):
    q = m.v3_TraceQueryParameters(service_name=service, raw_traces=True, **fields)
    q.start_time_min.FromNanoseconds(window[0])
    q.start_time_max.FromNanoseconds(window[1])
    for k, v in (attributes or {}).items():
        q.attributes[k] = v
    return q


@pytest.fixture(scope="module")
def ch(loaded):
    with grpc.insecure_channel(loaded.addr["query-grpc"]) as c:
        yield c


def test_services_operations_and_dependencies_are_the_query_apis(m, ch):
    services = unary(ch, READER + "GetServices", m.s_GetServicesRequest(), m.s_GetServicesResponse)
    v3 = unary(ch, V3 + "GetServices", m.v3_GetServicesRequest(), m.v3_GetServicesResponse)
    assert list(services.services) == list(v3.services) == ["driver", "frontend", "redis"]

    for kind in ["", "server", "client"]:
        ops = unary(ch, READER + "GetOperations", m.s_GetOperationsRequest(service="frontend", span_kind=kind),
                    m.s_GetOperationsResponse)
        v2 = unary(ch, V2 + "GetOperations", m.v2_GetOperationsRequest(service="frontend", span_kind=kind),
                   m.v2_GetOperationsResponse, )
        assert [(o.name, o.span_kind) for o in ops.operations] == \
            [(o.name, o.span_kind) for o in v2.operations]
        assert ops.operations or kind == "client"
    with pytest.raises(grpc.RpcError) as e:
        unary(ch, READER + "GetOperations", m.s_GetOperationsRequest(), m.s_GetOperationsResponse)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "service" in e.value.details()

    req = m.s_GetDependenciesRequest()
    req.start_time.FromNanoseconds(T0)
    req.end_time.FromNanoseconds(T0 + 60 * S)
    deps = unary(ch, DEPS + "GetDependencies", req, m.s_GetDependenciesResponse)
    v2req = m.v2_GetDependenciesRequest()
    v2req.start_time.FromNanoseconds(T0)
    v2req.end_time.FromNanoseconds(T0 + 60 * S)
    v2deps = unary(ch, V2 + "GetDependencies", v2req, m.v2_GetDependenciesResponse)
    got = sorted((d.parent, d.child, d.call_count) for d in deps.dependencies)
    assert got == sorted((d.parent, d.child, d.call_count) for d in v2deps.dependencies)
    assert ("frontend", "driver", 1) in got
    empty = m.s_GetDependenciesRequest()
    with pytest.raises(grpc.RpcError) as e:
        unary(ch, DEPS + "GetDependencies", empty, m.s_GetDependenciesResponse)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "end_time" in e.value.details()


def test_get_traces_skips_ids_not_found_and_never_mixes_traces(m, ch):
    req = m.s_GetTracesRequest()
    for tid in [TRACE_A, "ff" * 16, TRACE_A, TRACE_C.rjust(32, "0")]:
        p = req.query.add(trace_id=bytes.fromhex(tid.rjust(32, "0")))
        p.start_time.seconds = GO_ZERO_TIME  # "not set", as Jaeger's client sends it
        p.end_time.seconds = GO_ZERO_TIME
    got, order = by_trace(stream(ch, READER + "GetTraces", req, m.otlp_TracesData))
    assert order == [TRACE_A, TRACE_C.rjust(32, "0")]  # asked twice, sent once; unknown skipped
    for tid in order:
        v3 = stream(ch, V3 + "GetTrace", m.v3_GetTraceRequest(trace_id=tid, raw_traces=True),
                    m.otlp_TracesData)
        assert got[tid] == by_trace(v3)[0][tid]

    nothing = m.s_GetTracesRequest()
    nothing.query.add(trace_id=bytes.fromhex("ee" * 16))
    assert stream(ch, READER + "GetTraces", nothing, m.otlp_TracesData) == []
    assert stream(ch, READER + "GetTraces", m.s_GetTracesRequest(), m.otlp_TracesData) == []

    bad = m.s_GetTracesRequest()
    bad.query.add(trace_id=bytes(16))
    bad.query.add(trace_id=bytes(8))
    with pytest.raises(grpc.RpcError) as e:
        stream(ch, READER + "GetTraces", bad, m.otlp_TracesData)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "query[1].trace_id" in e.value.details()


SEARCHES = [
    dict(service="frontend"),
    dict(service="driver", operation_name="FindDriverIDs"),
    dict(service="driver", attributes={"driver.id": "T9"}),
    dict(service="driver", attributes={"ratio": "0.5"}),
    dict(service="frontend", duration_min=1 * S),
    dict(service="frontend", duration_max=100_000_000),
    dict(service="frontend", search_depth=1),
    dict(attributes={"error": "true"}),  # every service
    dict(service="frontend", attributes={"http.status_code": "500"}),  # nothing
]


def typed(m, key, text):
    """The attribute as Jaeger's client would type it (int, double, bool or string)."""
    kv = m.s_KeyValue(key=key)
    if text in ("true", "false"):
        kv.value.bool_value = text == "true"
    elif text.isdigit():
        kv.value.int_value = int(text)
    else:
        try:
            kv.value.double_value = float(text)
        except ValueError:
            kv.value.string_value = text
    return kv


@pytest.mark.parametrize("search", SEARCHES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
def test_find_traces_answers_what_api_v3_answers(m, ch, search):
    search = dict(search)
    attributes = search.pop("attributes", {})
    durations = {k: search.pop(k) for k in ("duration_min", "duration_max") if k in search}
    q = query(m, **search)
    v3q = v3_query(m, attributes=attributes, **search)
    for k, ns in durations.items():
        getattr(q, k).FromNanoseconds(ns)
        getattr(v3q, k).FromNanoseconds(ns)
    for k, v in attributes.items():
        q.attributes.append(typed(m, k, v))

    v3 = by_trace(stream(ch, V3 + "FindTraces", m.v3_FindTracesRequest(query=v3q), m.otlp_TracesData))
    found = by_trace(stream(ch, READER + "FindTraces", m.s_FindTracesRequest(query=q), m.otlp_TracesData))
    assert found == v3

    ids = unary(ch, READER + "FindTraceIDs", m.s_FindTraceIDsRequest(query=q), m.s_FindTraceIDsResponse)
    assert [t.trace_id.hex() for t in ids.trace_ids] == v3[1]

    summaries = [s for msg in stream(ch, READER + "FindTraceSummaries",
                                     m.s_FindTraceSummariesRequest(query=q), m.s_FindTraceSummariesResponse)
                 for s in msg.summaries]
    assert [s.trace_id.hex() for s in summaries] == v3[1]
    for s in summaries:
        assert s.span_count == len(v3[0][s.trace_id.hex()])


def test_trace_summaries_are_the_http_gateways(m, ch, loaded):
    q = query(m)
    summaries = [s for msg in stream(ch, READER + "FindTraceSummaries",
                                     m.s_FindTraceSummariesRequest(query=q), m.s_FindTraceSummariesResponse)
                 for s in msg.summaries]
    http = requests.get(loaded.url("query-http", "/api/v3/trace-summaries"), timeout=10, params={
        "query.startTimeMin": "2023-11-14T22:13:20Z", "query.startTimeMax": "2023-11-14T22:14:20Z"}).json()
    assert len(summaries) == len(http["summaries"]) == 3
    for got, want in zip(summaries, http["summaries"]):
        assert got.trace_id.hex() == want["traceId"]
        assert (got.root_service_name, got.root_operation_name) == \
            (want["rootServiceName"], want["rootOperationName"])
        assert (str(got.min_start_time_unix_nano), str(got.max_end_time_unix_nano)) == \
            (want["minStartTimeUnixNano"], want["maxEndTimeUnixNano"])
        assert (got.span_count, got.error_span_count, got.orphan_span_count) == \
            (want["spanCount"], want["errorSpanCount"], want["orphanSpanCount"])
        assert [(s.name, s.span_count, s.error_span_count) for s in got.services] == \
            [(s["name"], s["spanCount"], s["errorSpanCount"]) for s in want["services"]]


def test_unset_times_are_unbounded_and_no_match_is_an_empty_stream(m, ch):
    q = query(m, service="driver", window=None)
    q.start_time_min.seconds = GO_ZERO_TIME
    q.start_time_max.seconds = GO_ZERO_TIME
    found, _ = by_trace(stream(ch, READER + "FindTraces", m.s_FindTracesRequest(query=q), m.otlp_TracesData))
    assert set(found) == {TRACE_A, TRACE_C.rjust(32, "0")}
    none = query(m, service="nobody")
    assert stream(ch, READER + "FindTraces", m.s_FindTracesRequest(query=none), m.otlp_TracesData) == []
    assert stream(ch, READER + "FindTraceSummaries", m.s_FindTraceSummariesRequest(query=none),
                  m.s_FindTraceSummariesResponse) == []
    assert not unary(ch, READER + "FindTraceIDs", m.s_FindTraceIDsRequest(query=none),
                     m.s_FindTraceIDsResponse).trace_ids


def test_what_is_not_served_is_refused_not_widened(m, ch):
    q = query(m, service="driver")
    # Field 11, which no jaeger-idl version defines yet: a length-delimited field of 2 bytes.
    with_pages = q.SerializeToString() + bytes([11 << 3 | 2, 2, 0x08, 0x05])
    request = bytes([1 << 3 | 2, len(with_pages)]) + with_pages
    for method, response in [("FindTraces", m.otlp_TracesData), ("FindTraceIDs", m.s_FindTraceIDsResponse),
                             ("FindTraceSummaries", m.s_FindTraceSummariesResponse)]:
        with pytest.raises(grpc.RpcError) as e:
            call = ch.unary_stream if method != "FindTraceIDs" else ch.unary_unary
            result = call(READER + method, request_serializer=lambda b: b,
                          response_deserializer=response.FromString)(request, timeout=10)
            list(result) if method != "FindTraceIDs" else result
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED, method
        assert "field 11" in e.value.details()
    for bad, field in [(dict(search_depth=1, duration_min=None), "duration"),
                       (dict(window=(T0 + 60 * S, T0)), "start_time_min")]:
        q = query(m, service="driver", **{k: v for k, v in bad.items() if k == "window"})
        if "duration_min" in bad:
            q.duration_min.seconds = -1
        with pytest.raises(grpc.RpcError) as e:
            stream(ch, READER + "FindTraces", m.s_FindTracesRequest(query=q), m.otlp_TracesData)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        stream(ch, READER + "FindTraces", m.s_FindTracesRequest(), m.otlp_TracesData)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "query" in e.value.details()


def export(skua, request, headers=None):
    r = requests.post(skua.url("otlp-http", "/v1/traces"), data=request.SerializeToString(), timeout=30,
                      headers={"Content-Type": "application/x-protobuf", **(headers or {})})
    assert r.status_code == 200, r.text


def request_of(spans, service):
    """An export request: `spans` is [(trace hex, span id, name, start ns, {attributes})]."""
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    attr(rs.resource.attributes, "service.name", service)
    ss = rs.scope_spans.add()
    for trace, sid, name, start, attrs in spans:
        s = ss.spans.add(trace_id=bytes.fromhex(trace), span_id=sid.to_bytes(8, "big"), name=name,
                         start_time_unix_nano=start, end_time_unix_nano=start + 1000, kind=2)
        for k, v in attrs.items():
            attr(s.attributes, k, v)
    return req


def test_capabilities_say_what_the_searches_do(m, skua):
    """Each declared capability, checked against behaviour."""
    x, y = "ab" * 16, "cd" * 16
    export(skua, request_of([(x, 1, "one", T0, {"a": 1}), (x, 2, "two", T0 + S, {"b": 2})], "svc-1"))
    export(skua, request_of([(y, 3, "three", T0 + 2 * S, {"a": 1, "b": 2})], "svc-2"))
    with grpc.insecure_channel(skua.addr["query-grpc"]) as c:
        caps = unary(c, CAPS + "GetCapabilities", m.s_GetCapabilitiesRequest(), m.s_GetCapabilitiesResponse)
        assert caps.search.without_service_name
        assert caps.search.same_span_conjunction
        # The structured filter's declaration is checked against behaviour in test_filter.py.
        assert "some" in caps.search.filter.operators and "link" in caps.search.filter.levels

        def found(q):
            return set(by_trace(stream(c, READER + "FindTraces", m.s_FindTracesRequest(query=q),
                                       m.otlp_TracesData))[0])
        # without_service_name: an empty service searches every service.
        q = query(m, window=(T0 - S, T0 + 10 * S))
        q.attributes.append(typed(m, "a", "1"))
        assert found(q) == {x, y}
        # same_span_conjunction: a=1 and b=2 on different spans of x do not make x match.
        q.attributes.append(typed(m, "b", "2"))
        assert found(q) == {y}


def test_large_trace_comes_back_whole_in_messages_under_4_mib(m, skua):
    """Jaeger's own GetLargeTrace case, with ~600 bytes per span (~6 MB): 10,008 spans."""
    trace = "5a" * 16
    padding = "x" * 600
    n = 10_008
    for first in range(0, n, 2000):
        export(skua, request_of([(trace, i + 1, f"op-{i % 7}", T0 + i * 1000, {"pad": padding, "i": i})
                                 for i in range(first, min(n, first + 2000))], "big"))
    req = m.s_GetTracesRequest()
    req.query.add(trace_id=bytes.fromhex(trace))
    with grpc.insecure_channel(skua.addr["query-grpc"]) as c:
        for method, request in [("GetTraces", req),
                                ("FindTraces", m.s_FindTracesRequest(query=query(m, "big", search_depth=1)))]:
            messages = stream(c, READER + method, request, m.otlp_TracesData, raw=True, timeout=60)
            assert len(messages) > 1
            assert all(len(raw) < 4 * MIB for raw, _ in messages), [len(r) for r, _ in messages]
            got, order = by_trace([td for _, td in messages])
            assert order == [trace]
            assert len(got[trace]) == n
            assert {s for s, _ in got[trace]} == {(i + 1).to_bytes(8, "big").hex() for i in range(n)}


def test_tenants_and_credentials_apply(m, skua_factory, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("reader-token\n")
    s = skua_factory(["--tenancy.enabled=true", "--tenancy.tenants=acme,globex",
                      f"--query.grpc.auth.bearer_tokens_file={tokens}"]).start()
    trace = "77" * 16
    for tenant in ["acme", "globex"]:
        export(s, request_of([(trace, 1, f"{tenant}-op", T0, {"owner": tenant})], f"{tenant}-svc"),
               headers={"x-tenant": tenant})
    auth = [("authorization", "Bearer reader-token")]
    with grpc.insecure_channel(s.addr["query-grpc"]) as c:
        with pytest.raises(grpc.RpcError) as e:
            unary(c, READER + "GetServices", m.s_GetServicesRequest(), m.s_GetServicesResponse,
                  metadata=[("x-tenant", "acme")])
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as e:
            unary(c, READER + "GetServices", m.s_GetServicesRequest(), m.s_GetServicesResponse, metadata=auth)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as e:
            unary(c, CAPS + "GetCapabilities", m.s_GetCapabilitiesRequest(), m.s_GetCapabilitiesResponse,
                  metadata=auth + [("x-tenant", "initech")])
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        for tenant in ["acme", "globex"]:
            md = auth + [("x-tenant", tenant)]
            services = unary(c, READER + "GetServices", m.s_GetServicesRequest(), m.s_GetServicesResponse,
                             metadata=md)
            assert list(services.services) == [f"{tenant}-svc"]
            req = m.s_GetTracesRequest()
            req.query.add(trace_id=bytes.fromhex(trace))
            got = stream(c, READER + "GetTraces", req, m.otlp_TracesData, metadata=md)
            assert [s.name for td in got for s in spans_of(td)] == [f"{tenant}-op"]
            found = stream(c, READER + "FindTraces", m.s_FindTracesRequest(query=query(m, window=(T0 - S, T0 + S))),
                           m.otlp_TracesData, metadata=md)
            assert [s.name for td in found for s in spans_of(td)] == [f"{tenant}-op"]
    assert metric_value(s.metrics(), "skua_query_requests_total",
                        route="/jaeger.storage.v2.TraceReader/GetServices", code="OK") >= 2


def test_a_deadline_is_answered_and_the_port_keeps_serving(m, ch):
    with pytest.raises(grpc.RpcError) as e:
        stream(ch, READER + "FindTraces", m.s_FindTracesRequest(query=query(m)), m.otlp_TracesData,
               timeout=0.000001)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert unary(ch, READER + "GetServices", m.s_GetServicesRequest(), m.s_GetServicesResponse).services


def test_hostile_requests_are_bounded(m, ch, loaded):
    """The largest request the port takes (1 MiB: ~52,000 IDs) is answered, a larger one is
    refused, a garbage body is refused, and the port keeps serving."""
    req = m.s_GetTracesRequest()
    for i in range(52_000):
        req.query.add(trace_id=((1 << 100) + i).to_bytes(16, "big"))
    assert req.ByteSize() < 1 << 20
    assert stream(ch, READER + "GetTraces", req, m.otlp_TracesData, timeout=60) == []
    for i in range(2_000):
        req.query.add(trace_id=((1 << 101) + i).to_bytes(16, "big"))
    with pytest.raises(grpc.RpcError) as e:
        stream(ch, READER + "GetTraces", req, m.otlp_TracesData, timeout=60)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    call = ch.unary_stream(READER + "FindTraces", request_serializer=lambda b: b,
                           response_deserializer=m.otlp_TracesData.FromString)
    with pytest.raises(grpc.RpcError) as e:
        list(call(b"\x0a\xff\xff\xff\xff\x0f garbage", timeout=10))
    assert e.value.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT)
    assert loaded.proc.poll() is None
    assert unary(ch, READER + "GetServices", m.s_GetServicesRequest(), m.s_GetServicesResponse).services


def test_purge_exists_only_when_enabled(skua_factory, tmp_path):
    off = skua_factory().start()
    export(off, request_of([("31" * 16, 1, "kept", T0, {})], "svc"))
    for method in ("POST", "GET"):
        r = requests.request(method, off.url("admin", "/purge"), timeout=10)
        assert r.status_code == 404 and "admin.purge.enabled" in r.text
    assert off.get_trace("31" * 16).status_code == 200

    tokens = tmp_path / "admin-tokens"
    tokens.write_text("admin-token\n")
    on = skua_factory(["--admin.purge.enabled=true", f"--admin.auth.bearer_tokens_file={tokens}"]).start()
    assert "POST /purge on the admin port deletes all stored data" in on.log()
    export(on, request_of([("32" * 16, 1, "gone", T0, {})], "svc"))
    assert requests.post(on.url("admin", "/purge"), timeout=10).status_code == 401
    auth = {"Authorization": "Bearer admin-token"}
    assert requests.get(on.url("admin", "/purge"), headers=auth, timeout=10).status_code == 405
    assert on.get_trace("32" * 16).status_code == 200
    r = requests.post(on.url("admin", "/purge"), headers=auth, timeout=10)
    assert r.status_code == 200 and r.headers["Connection"] == "close"
    assert on.get_trace("32" * 16).status_code == 404
    assert requests.get(on.url("query-http", "/api/services"), timeout=10).json()["data"] == []
    export(on, request_of([("33" * 16, 1, "after", T0, {})], "svc"))  # writing goes on
    assert on.get_trace("33" * 16).status_code == 200
    on.stop()
    on.start()  # nothing purged comes back
    assert on.get_trace("32" * 16).status_code == 404
    assert on.get_trace("33" * 16).status_code == 200
