"""End-to-end: the real OpenTelemetry Python SDK exports to Skua over every transport, and the
trace comes back by ID in Jaeger's v1 JSON and in api_v3 OTLP JSON with every field intact."""

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_helpers import RESOURCE_ATTRS, ROOT_ATTRS, build_trace, make_exporter

TRANSPORTS = ["grpc", "grpc-gzip", "http-protobuf", "http-protobuf-gzip", "http-json", "http-json-snake"]


def tags_of(span_or_process):
    return {t["key"]: (t["type"], t["value"]) for t in span_or_process["tags"]}


def export(kind, skua, spans):
    exporter = make_exporter(kind, skua)
    try:
        assert exporter.export(spans) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_trace_round_trips_through_jaeger_v1_json(skua, kind):
    spans = build_trace()
    export(kind, skua, spans)
    by_name = {s.name: s for s in spans}
    root = by_name["POST /tasks"]
    trace_hex = format(root.context.trace_id, "032x")

    resp = skua.get_trace(trace_hex)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "application/json"
    body = resp.json()
    assert body["errors"] is None and body["total"] == 0 and body["limit"] == 0 and body["offset"] == 0
    assert len(body["data"]) == 1
    trace = body["data"][0]
    assert trace["traceID"] == trace_hex
    got = {s["operationName"]: s for s in trace["spans"]}
    assert set(got) == {"POST /tasks", "validate_task", "save_to_database"}

    for name, sdk_span in by_name.items():
        if name == "upstream":
            continue
        j = got[name]
        assert j["traceID"] == trace_hex
        assert j["spanID"] == format(sdk_span.context.span_id, "016x")
        assert j["startTime"] == sdk_span.start_time // 1000
        assert j["duration"] == (sdk_span.end_time - sdk_span.start_time) // 1000
        assert "flags" not in j
        tags = tags_of(j)
        assert tags["otel.scope.name"] == ("string", "e2e.tracer")
        assert tags["otel.scope.version"] == ("string", "9.9.9")
        assert j["processID"] in trace["processes"]

    rt = tags_of(got["POST /tasks"])
    assert rt["span.kind"] == ("string", "server")
    assert rt["http.method"] == ("string", "POST")
    assert rt["http.status_code"] == ("int64", 500)
    assert rt["http.big"] == ("int64", str(2**60))
    assert rt["ratio"] == ("float64", 0.25)
    assert rt["retried"] == ("bool", False)
    assert rt["tags.list"] == ("string", '["a","b"]')
    assert rt["ints.list"] == ("string", "[1,2,3]")
    assert rt["bools.list"] == ("string", "[true,false]")
    assert rt["floats.list"] == ("string", "[1.5,2.5]")
    assert "error" not in rt and "otel.status_code" not in rt
    assert got["POST /tasks"]["references"] == []
    # Every tag sorted by key, attributes and derived tags alike (Jaeger's SortTagsAndLogFields).
    keys = [t["key"] for t in got["POST /tasks"]["tags"]]
    assert keys == sorted(keys) and set(ROOT_ATTRS) <= set(keys)

    v = got["validate_task"]
    assert v["references"] == [
        {"refType": "CHILD_OF", "traceID": trace_hex, "spanID": got["POST /tasks"]["spanID"]}
    ]
    assert tags_of(v)["span.kind"] == ("string", "internal")
    assert len(v["logs"]) == 1
    log = v["logs"][0]
    event = by_name["validate_task"].events[0]
    assert log["timestamp"] == event.timestamp // 1000
    fields = [(f["key"], f["type"], f["value"]) for f in log["fields"]]
    assert fields == [
        ("event", "string", "validated"),
        ("rule", "string", "len"),
        ("rule.count", "int64", 3),
        ("strict", "bool", True),
    ]

    db = got["save_to_database"]
    upstream = by_name["upstream"]
    assert db["references"] == [
        {"refType": "CHILD_OF", "traceID": trace_hex, "spanID": got["POST /tasks"]["spanID"]},
        {
            "refType": "FOLLOWS_FROM",
            "traceID": format(upstream.context.trace_id, "032x"),
            "spanID": format(upstream.context.span_id, "016x"),
        },
    ]
    dt = tags_of(db)
    assert dt["span.kind"] == ("string", "client")
    assert dt["error"] == ("bool", True)
    assert dt["otel.status_code"] == ("string", "ERROR")
    assert dt["otel.status_description"] == ("string", "constraint violated")
    assert dt["db.system"] == ("string", "postgresql")

    assert len(trace["processes"]) == 1
    proc = trace["processes"][got["POST /tasks"]["processID"]]
    assert proc["serviceName"] == "task-api"
    pt = tags_of(proc)
    assert "service.name" not in pt
    assert pt["host.name"] == ("string", "node-7")
    assert pt["process.pid"] == ("int64", 4242)
    assert pt["resource.canary"] == ("bool", True)
    assert pt["resource.weight"] == ("float64", 0.75)
    assert pt["telemetry.sdk.language"] == ("string", "python")

    # The linked-to trace was exported in the same request and is a trace of its own.
    other = skua.get_trace(format(upstream.context.trace_id, "032x")).json()["data"][0]
    assert [s["operationName"] for s in other["spans"]] == ["upstream"]


@pytest.mark.parametrize("kind", ["grpc", "http-json"])
def test_trace_round_trips_through_api_v3(skua, kind):
    spans = build_trace()
    export(kind, skua, spans)
    by_name = {s.name: s for s in spans}
    root = by_name["POST /tasks"]
    trace_hex = format(root.context.trace_id, "032x")
    resp = skua.get_trace(trace_hex, version="v3")
    assert resp.status_code == 200, resp.text
    result = resp.json()["result"]
    assert len(result["resourceSpans"]) == 1
    rs = result["resourceSpans"][0]
    rattrs = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
    assert rattrs["service.name"] == {"stringValue": "task-api"}
    assert rattrs["process.pid"] == {"intValue": str(RESOURCE_ATTRS["process.pid"])}
    assert rattrs["resource.canary"] == {"boolValue": True}
    scope = rs["scopeSpans"][0]
    assert scope["scope"] == {"name": "e2e.tracer", "version": "9.9.9"}
    got = {s["name"]: s for s in scope["spans"]}
    assert set(got) == {"POST /tasks", "validate_task", "save_to_database"}
    r = got["POST /tasks"]
    assert r["traceId"] == trace_hex
    assert r["spanId"] == format(root.context.span_id, "016x")
    assert r["kind"] == 2
    assert r["startTimeUnixNano"] == str(root.start_time)
    assert r["endTimeUnixNano"] == str(root.end_time)
    attrs = {a["key"]: a["value"] for a in r["attributes"]}
    assert attrs["http.big"] == {"intValue": str(2**60)}
    assert attrs["ratio"] == {"doubleValue": 0.25}
    assert attrs["tags.list"] == {"arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}}
    db = got["save_to_database"]
    assert db["status"] == {"code": 2, "message": "constraint violated"}
    assert db["parentSpanId"] == r["spanId"]
    assert db["links"][0]["traceId"] == format(by_name["upstream"].context.trace_id, "032x")
    assert db["links"][0]["attributes"] == [{"key": "link.kind", "value": {"stringValue": "cause"}}]
    ev = got["validate_task"]["events"][0]
    assert ev["name"] == "validated"
    assert ev["timeUnixNano"] == str(by_name["validate_task"].events[0].timestamp)


def test_sixteen_and_thirty_two_digit_ids_find_the_same_trace(skua):
    """A 64-bit trace ID (top half zero) renders with 16 digits and is found by either form."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    import requests

    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "legacy"
    span = rs.scope_spans.add().spans.add()
    span.trace_id = bytes(8) + bytes.fromhex("00000000deadbeef")
    span.span_id = bytes.fromhex("0000000000000001")
    span.name = "old"
    span.start_time_unix_nano, span.end_time_unix_nano = 1_000_000_000, 2_000_000_000
    resp = requests.post(
        skua.url("otlp-http", "/v1/traces"),
        data=req.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
        timeout=10,
    )
    assert resp.status_code == 200
    for form in ["00000000deadbeef", "deadbeef", "000000000000000000000000deadbeef", "DEADBEEF"]:
        r = skua.get_trace(form)
        assert r.status_code == 200, form
        t = r.json()["data"][0]
        assert t["traceID"] == "00000000deadbeef"
        assert t["spans"][0]["traceID"] == "00000000deadbeef"
    v3 = skua.get_trace("deadbeef", version="v3").json()
    assert v3["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] == (
        "000000000000000000000000deadbeef"
    )
