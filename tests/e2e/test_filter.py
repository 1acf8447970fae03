"""The structured filter of Jaeger RFC 0005 on every search that takes one: api_v3 over HTTP
(`query.filter`, JSON) and gRPC (field 10), and the remote storage API (field 9) — each filter
answered with the same, hand-computed traces everywhere; what Capabilities declares, checked
against what the searches do; and the refusals (malformed, not served, mixed with the legacy
fields, hostile)."""

import json
import subprocess

import grpc
import pytest
import requests
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

from conftest import REPO
from test_query_api import S, T0, TRACE_A, TRACE_B, TRACE_C, loaded  # noqa: F401

A, B, C = TRACE_A, TRACE_B, TRACE_C.rjust(32, "0")
V3_WINDOW = {"query.start_time_min": "2023-11-14T22:13:00Z", "query.start_time_max": "2023-11-14T22:15:00Z"}


def attr(key, level=""):
    return {"attr": {"key": key, "level": level}}


def field(level, name):
    return {"field": {"level": level, "name": name}}


def scalar(value, type_=""):
    return {"scalar": {"value": value, "type": type_}}


def call(op, *args):
    return {"op": op, "args": list(args)}


def arg(c):
    return {"call": c}


# (filter, the traces it matches in test_query_api's dataset). Together they use every level and
# every operator Skua declares (checked below).
CASES = [
    (call("eq", attr("http.status_code"), scalar("200")), {A, B}),
    (call("gte", attr("http.status_code", "span"), scalar("200", "int")), {A, B}),
    (call("eq", attr("http.status_code"), scalar("200", "string")), set()),  # stored as an int
    (call("and", arg(call("eq", field("resource", "service"), scalar("driver"))),
          arg(call("gt", field("span", "duration"), scalar("100ms")))), {A}),
    (call("and", arg(call("eq", field("resource", "service"), scalar("driver"))),
          arg(call("lte", field("span", "duration"), scalar("100ms")))), {C}),
    (call("lt", field("span", "duration"), scalar("40ms")), {A}),
    (call("or", arg(call("eq", attr("driver.id"), scalar("T9"))),
          arg(call("eq", attr("redis.key"), scalar("T7")))), {A, C}),
    (call("not", arg(call("exists", attr("driver.id")))), {A, B}),
    (call("ne", attr("driver.id"), scalar("T7")), {C}),
    (call("regex", field("span", "name"), scalar("Driver")), {A, C}),
    (call("regex", attr("http.status_code"), scalar("^2")), None),  # refused: anchored
    (call("some", {"nested": {"level": "event"}},
          arg(call("and", arg(call("eq", field("event", "name"), scalar("found"))),
                   arg(call("gt", attr("count", "event"), scalar("2")))))), {A}),
    (call("exists", attr("count")), set()),  # an event attribute: not span-or-resource
    (call("and", arg(call("eq", field("span", "status"), scalar("error"))),
          arg(call("eq", attr("host.name", "resource"), scalar("redis-host")))), {A}),
    (call("in", attr("ratio"), {"list": {"values": ["0.5", "1"]}}), {C}),
    (call("not_in", attr("driver.id"), {"list": {"values": ["T7", "T8"]}}), {C}),
    (call("eq", field("scope", "version"), scalar("1.0")), {A, B, C}),
    (call("exists", attr("peer", "link")), set()),
    (call("eq", field("span", "kind"), scalar("client")), {A}),
]


def summaries(skua, flt, extra=None):
    params = {**V3_WINDOW, "query.filter": json.dumps(flt), **(extra or {})}
    return requests.get(skua.url("query-http", "/api/v3/trace-summaries"), params=params, timeout=10)


@pytest.mark.parametrize("flt,want", CASES, ids=[json.dumps(c[0])[:80] for c in CASES])
def test_http_filter(loaded, flt, want):
    r = summaries(loaded, flt)
    if want is None:
        assert r.status_code == 400, r.text
        assert "anchor" in r.json()["error"]["message"]
        return
    assert r.status_code == 200, r.text
    assert {s["traceId"] for s in r.json()["summaries"]} == want


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    out = tmp_path_factory.mktemp("proto") / "filter.pb"
    subprocess.run(["protoc", f"-I{REPO / 'proto'}", "-I/usr/include", "--include_imports",
                    f"--descriptor_set_out={out}", "jaeger/storage/v2/trace_storage.proto",
                    "jaeger/storage/v2/capabilities.proto", "jaeger/api_v3/query_service.proto"],
                   check=True)
    pool = descriptor_pool.DescriptorPool()
    for f in descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file:
        pool.Add(f)
    return lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


def window(q):
    q.start_time_min.FromNanoseconds(T0 - 60 * S)
    q.start_time_max.FromNanoseconds(T0 + 120 * S)


def grpc_sets(skua, m, flt):
    """The traces the filter finds over api_v3 gRPC FindTraces and remote-storage FindTraceIDs."""
    v3 = m("jaeger.api_v3.FindTracesRequest")()
    window(v3.query)
    json_format.ParseDict(flt, v3.query.filter)
    st = m("jaeger.storage.v2.FindTraceIDsRequest")()
    window(st.query)
    json_format.ParseDict(flt, st.query.filter)
    td = m("opentelemetry.proto.trace.v1.TracesData")
    with grpc.insecure_channel(skua.addr["query-grpc"]) as ch:
        found = ch.unary_stream("/jaeger.api_v3.QueryService/FindTraces",
                                request_serializer=lambda x: x.SerializeToString(),
                                response_deserializer=td.FromString)(v3, timeout=10)
        v3_ids = {s.trace_id.hex() for t in found for rs in t.resource_spans
                  for ss in rs.scope_spans for s in ss.spans}
        ids = ch.unary_unary("/jaeger.storage.v2.TraceReader/FindTraceIDs",
                             request_serializer=lambda x: x.SerializeToString(),
                             response_deserializer=m("jaeger.storage.v2.FindTraceIDsResponse").FromString)(
            st, timeout=10)
        return v3_ids, {t.trace_id.hex() for t in ids.trace_ids}


@pytest.mark.parametrize("flt,want", [c for c in CASES if c[1] is not None],
                         ids=[json.dumps(c[0])[:80] for c in CASES if c[1] is not None])
def test_grpc_filter(loaded, m, flt, want):
    v3, remote = grpc_sets(loaded, m, flt)
    assert v3 == want
    assert remote == want


def used(node, ops, levels):
    ops.add(node["op"])
    for a in node["args"]:
        for kind in ("attr", "field", "nested"):
            if kind in a and a[kind].get("level"):
                levels.add(a[kind]["level"])
        if "call" in a:
            used(a["call"], ops, levels)


def test_capabilities_declare_what_the_filter_does(loaded, m):
    """Every declared level and operator is used by an answered case above; what is not declared
    (the text-search operators) is refused as unsupported, not answered some other way."""
    with grpc.insecure_channel(loaded.addr["query-grpc"]) as ch:
        caps = ch.unary_unary("/jaeger.storage.v2.Capabilities/GetCapabilities",
                              request_serializer=lambda x: x.SerializeToString(),
                              response_deserializer=m("jaeger.storage.v2.GetCapabilitiesResponse").FromString)(
            m("jaeger.storage.v2.GetCapabilitiesRequest")(), timeout=10)
    declared_ops = set(caps.search.filter.operators)
    declared_levels = set(caps.search.filter.levels)
    assert declared_ops == {"and", "or", "not", "eq", "ne", "gt", "lt", "gte", "lte", "regex", "exists",
                            "in", "not_in", "some"}
    assert declared_levels == {"span", "resource", "scope", "event", "link"}
    ops, levels = set(), set()
    for flt, want in CASES:
        if want is not None:
            used(flt, ops, levels)
    assert ops == declared_ops
    assert levels == declared_levels
    for op in ("phrase", "fulltext"):
        r = summaries(loaded, call(op, attr("x"), {"list": {"values": ["a"]}}))
        assert r.status_code == 501, r.text
        assert op in r.json()["error"]["message"]
        with pytest.raises(grpc.RpcError) as e:
            grpc_sets(loaded, m, call(op, attr("x"), {"list": {"values": ["a"]}}))
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_service_less_search_with_a_filter(loaded):
    """No service anywhere: the filter alone finds traces across services."""
    r = requests.get(loaded.url("query-http", "/api/v3/traces"),
                     params={**V3_WINDOW, "query.filter": json.dumps(call("exists", attr("redis.key")))},
                     timeout=10)
    assert r.status_code == 200
    spans = [s for rs in r.json()["result"]["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert {s["traceId"] for s in spans} == {A}
    assert len(spans) == 4  # the whole trace, not only the matching span


@pytest.mark.parametrize("flt,extra,status,words", [
    (call("eq", attr("a"), scalar("1")), {"query.service_name": "driver"}, 400, "cannot be combined"),
    (call("eq", attr("a"), scalar("1")), {"query.attributes": '{"a":"1"}'}, 400, "cannot be combined"),
    (call("eq", attr("a"), scalar("1")), {"query.durationMin": "1s"}, 400, "cannot be combined"),
    (call("matches", attr("a"), scalar("1")), {}, 400, 'unknown filter operator "matches"'),
    (call("gt", field("span", "kind"), scalar("server")), {}, 400, "no ordering"),
    (call("gt", field("span", "duration"), scalar("banana")), {}, 400, "span.duration"),
    (call("eq", field("span", "colour"), scalar("x")), {}, 400, 'unknown built-in field "colour"'),
    (call("lt", attr("a"), field("span", "duration")), {}, 501, "not supported"),
    (call("some", {"nested": {"level": "event"}},
          arg(call("some", {"nested": {"level": "event"}}, arg(call("exists", attr("a")))))), {}, 400,
     "already quantifying"),
])
def test_refusals_name_what_is_wrong(loaded, flt, extra, status, words):
    r = summaries(loaded, flt, extra)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]["message"]


def test_hostile_filters_are_refused_cheaply(loaded, m):
    hostile_json = [
        "[" * 1000,                                                 # nesting bomb, before parsing
        json.dumps(call("regex", attr("a"), scalar("((a{100}){100}){100}"))),  # RE2 program too big
        json.dumps(call("eq", attr("a" * 5_000), scalar("1"))),    # a key beyond 4 KiB
        "{not json",
    ]
    for text in hostile_json:
        r = requests.get(loaded.url("query-http", "/api/v3/trace-summaries"),
                         params={**V3_WINDOW, "query.filter": text}, timeout=30)
        assert r.status_code == 400, (text[:60], r.text[:300])
    # Too many terms, too deep: over gRPC, where such messages fit.
    deep = call("exists", attr("a"))
    for _ in range(40):
        deep = call("not", arg(deep))
    wide = call("or", *[arg(call("eq", attr("a"), scalar(str(i)))) for i in range(2000)])
    for flt, words in [(deep, "deeper than 32"), (wide, "more than 1000 terms")]:
        with pytest.raises(grpc.RpcError) as e:
            grpc_sets(loaded, m, flt)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in e.value.details()
    # Still serving.
    assert summaries(loaded, call("exists", attr("driver.id"))).status_code == 200


@pytest.mark.parametrize("params,want", [
    ({"query.traceDurationMin": "1s"}, {A}),                      # A lasts 1.2 s
    ({"query.trace_duration_max": "100ms"}, {B, C}),              # 50 ms and 90 ms
    ({"query.traceDurationMax": "100ms",
      "query.filter": json.dumps(call("exists", attr("driver.id")))}, {C}),
    # Span-level duration says "one span at least this long"; trace-level, the whole trace.
    ({"query.serviceName": "driver", "query.durationMin": "1s"}, set()),
    ({"query.serviceName": "driver", "query.traceDurationMin": "1s"}, {A}),
])
def test_trace_duration_api_v3(loaded, params, want):
    r = requests.get(loaded.url("query-http", "/api/v3/trace-summaries"), params={**V3_WINDOW, **params},
                     timeout=10)
    assert r.status_code == 200, r.text
    assert {s["traceId"] for s in r.json()["summaries"]} == want


def test_trace_duration_v1(loaded):
    window = {"start": str((T0 - 60 * S) // 1000), "end": str((T0 + 120 * S) // 1000)}
    r = requests.get(loaded.url("query-http", "/api/traces"),
                     params={"service": "driver", "minTraceDuration": "1s", **window}, timeout=10)
    assert r.status_code == 200, r.text
    assert {t["traceID"] for t in r.json()["data"]} == {A}
    r = requests.get(loaded.url("query-http", "/api/traces"),
                     params={"maxTraceDuration": "100ms", **window}, timeout=10)
    assert {t["traceID"] for t in r.json()["data"]} == {B, TRACE_C}
    r = requests.get(loaded.url("query-http", "/api/traces"),
                     params={"minTraceDuration": "2s", "maxTraceDuration": "1s", **window}, timeout=10)
    assert r.status_code == 400 and "maxTraceDuration" in r.text


def spans_page(skua, flt=None, size=None, token=None, extra=None):
    params = {**V3_WINDOW, **(extra or {})}
    if flt is not None:
        params["query.filter"] = json.dumps(flt)
    if size is not None:
        params["query.pagination.pageSize"] = str(size)
    if token:
        params["query.pagination.pageToken"] = token
    return requests.get(skua.url("query-http", "/api/v3/spans"), params=params, timeout=10)


def span_keys(body):
    return [(s["traceId"], s["spanId"], s["name"], rs["resource"]["attributes"][0]["value"]["stringValue"])
            for rs in body["result"]["spans"].get("resourceSpans", [])
            for ss in rs["scopeSpans"] for s in ss["spans"]]


def test_span_search_returns_the_matching_spans(loaded):
    r = spans_page(loaded, call("exists", attr("driver.id")))
    assert r.status_code == 200, r.text
    # Newest first: C's driver span (T0+30 s), then A's (T0+10 s); only the matching spans, each
    # under its own service's resource.
    assert span_keys(r.json()) == [(C, "0000000000000006", "FindDriverIDs", "driver"),
                                   (A, "0000000000000003", "FindDriverIDs", "driver")]
    assert "nextPageToken" not in r.json()["result"]


def test_span_by_id_and_its_deep_link(loaded):
    by_id = call("or", arg(call("and", arg(call("eq", field("span", "traceID"), scalar(A))),
                                arg(call("eq", field("span", "spanID"), scalar("0000000000000004"))))),
                 arg(call("and", arg(call("eq", field("span", "traceID"), scalar(B))),
                          arg(call("eq", field("span", "spanID"), scalar("0000000000000005"))))))
    r = spans_page(loaded, by_id)
    assert r.status_code == 200, r.text
    assert span_keys(r.json()) == [(B, "0000000000000005", "GET /config", "frontend"),
                                   (A, "0000000000000004", "GetDriver", "redis")]
    # What the UI's /trace/{traceID}?uiFind={spanID} link loads: the trace holding that span.
    t = requests.get(loaded.url("query-http", f"/api/traces/{A}"), timeout=10).json()["data"][0]
    assert "0000000000000004" in {s["spanID"] for s in t["spans"]}


def test_span_pages_are_the_single_answer(loaded):
    whole = span_keys(spans_page(loaded, size=100).json())
    assert len(whole) == 6
    got, token = [], None
    while True:
        body = spans_page(loaded, size=2, token=token).json()
        got += span_keys(body)
        token = body["result"].get("nextPageToken")
        if not token:
            break
    assert got == whole
    # A span search takes no legacy predicates, and a trace search's token is not a span token.
    r = spans_page(loaded, extra={"query.serviceName": "driver"})
    assert r.status_code == 400 and "RFC 0016" in r.text
    trace_token = requests.get(loaded.url("query-http", "/api/v3/trace-summaries"),
                               params={**V3_WINDOW, "query.pagination.pageSize": "1"}, timeout=10
                               ).json()["nextPageToken"]
    r = spans_page(loaded, size=2, token=trace_token)
    assert r.status_code == 400 and "page_token" in r.text
