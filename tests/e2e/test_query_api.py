"""Golden tests of the query API's JSON: every endpoint the Jaeger UI and Grafana call, with
success and error cases, against a fixed dataset. Set SKUA_UPDATE_GOLDEN=1 to rewrite the
golden files (then review the diff: they are the contract)."""

import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

GOLDEN = Path(__file__).parent / "golden"
T0 = 1_700_000_000_000_000_000  # ns, 2023-11-14T22:13:20Z
US = 1_000
MS = 1_000_000
S = 1_000_000_000

TRACE_A = "00000000000000a100000000000000a1"
TRACE_B = "00000000000000b200000000000000b2"
TRACE_C = "00000000000000c3"  # a 64-bit ID


def attr(kvs, key, value):
    kv = kvs.add()
    kv.key = key
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    else:
        kv.value.string_value = value


def dataset():
    req = trace_service_pb2.ExportTraceServiceRequest()
    scopes = {}

    def scope(service):
        if service not in scopes:
            rs = req.resource_spans.add()
            attr(rs.resource.attributes, "service.name", service)
            attr(rs.resource.attributes, "host.name", f"{service}-host")
            ss = rs.scope_spans.add()
            ss.scope.name = "golden"
            ss.scope.version = "1.0"
            scopes[service] = ss
        return scopes[service]

    def span(service, trace, sid, parent, name, kind, start, dur, attrs=(), error=False):
        s = scope(service).spans.add()
        s.trace_id = bytes.fromhex(trace.rjust(32, "0"))
        s.span_id = sid.to_bytes(8, "big")
        if parent:
            s.parent_span_id = parent.to_bytes(8, "big")
        s.name, s.kind = name, kind
        s.start_time_unix_nano, s.end_time_unix_nano = start, start + dur
        for k, v in attrs:
            attr(s.attributes, k, v)
        if error:
            s.status.code = 2
            s.status.message = "failed"
        return s

    a = T0 + 10 * S
    span("frontend", TRACE_A, 1, 0, "GET /dispatch", 2, a, 1200 * MS, [("http.status_code", 200)])
    span("frontend", TRACE_A, 2, 1, "HTTP GET /driver", 3, a + 5 * MS, 600 * MS)
    d = span("driver", TRACE_A, 3, 2, "FindDriverIDs", 2, a + 10 * MS, 400 * MS, [("driver.id", "T7")])
    ev = d.events.add()
    ev.name, ev.time_unix_nano = "found", a + 300 * MS
    attr(ev.attributes, "count", 3)
    span("redis", TRACE_A, 4, 3, "GetDriver", 3, a + 20 * MS, 30 * MS, [("redis.key", "T7")], error=True)
    b = T0 + 20 * S
    span("frontend", TRACE_B, 5, 0, "GET /config", 2, b, 50 * MS, [("http.status_code", 200)])
    c = T0 + 30 * S
    span("driver", TRACE_C, 6, 0, "FindDriverIDs", 2, c, 90 * MS, [("driver.id", "T9"), ("ratio", 0.5)],
         error=True)
    return req


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from conftest import Skua

    tmp = tmp_path_factory.mktemp("golden")
    skua = Skua(tmp / "data", tmp).start()
    r = requests.post(skua.url("otlp-http", "/v1/traces"), data=dataset().SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert r.status_code == 200
    yield skua
    skua.stop()


WINDOW = f"start={T0 // US}&end={(T0 + 60 * S) // US}"
V3_WINDOW = "query.startTimeMin=2023-11-14T22:13:00Z&query.startTimeMax=2023-11-14T22:15:00Z"

CASES = [
    ("v1_services", "/api/services"),
    ("v1_service_operations", "/api/services/frontend/operations"),
    ("v1_service_operations_unknown", "/api/services/nobody/operations"),
    ("v1_operations", "/api/operations?service=frontend"),
    ("v1_operations_kind", "/api/operations?service=frontend&spanKind=client"),
    ("v1_operations_no_service", "/api/operations"),
    ("v1_search_service", f"/api/traces?service=frontend&{WINDOW}"),
    ("v1_search_operation", f"/api/traces?service=driver&operation=FindDriverIDs&{WINDOW}"),
    ("v1_search_min_duration", f"/api/traces?service=frontend&minDuration=1s&{WINDOW}"),
    ("v1_search_max_duration", f"/api/traces?service=frontend&maxDuration=100ms&{WINDOW}"),
    ("v1_search_tag", f"/api/traces?service=driver&tag=driver.id:T9&{WINDOW}"),
    ("v1_search_tag_error", f"/api/traces?tag=error:true&{WINDOW}"),
    ("v1_search_tags_json", f"/api/traces?service=redis&tags={quote(json.dumps({'redis.key': 'T7', 'error': 'true'}))}&{WINDOW}"),
    ("v1_search_event_attribute", f"/api/traces?service=driver&tag=count:3&{WINDOW}"),
    ("v1_search_resource_attribute", f"/api/traces?tag=host.name:redis-host&{WINDOW}"),
    ("v1_search_double_as_string", f"/api/traces?tag=ratio:0.5&{WINDOW}"),
    ("v1_search_limit", f"/api/traces?service=frontend&limit=1&{WINDOW}"),
    ("v1_search_nothing", f"/api/traces?service=frontend&tag=http.status_code:500&{WINDOW}"),
    ("v1_search_outside_window", f"/api/traces?service=frontend&start={(T0 + 100 * S) // US}&end={(T0 + 200 * S) // US}"),
    ("v1_search_bad_tag", "/api/traces?service=frontend&tag=nocolon"),
    ("v1_search_bad_tags", f"/api/traces?service=frontend&tags={quote(json.dumps({'a': 1}))}"),
    ("v1_search_bad_limit", "/api/traces?service=frontend&limit=ten"),
    ("v1_search_bad_start", "/api/traces?service=frontend&start=yesterday"),
    ("v1_search_bad_duration", "/api/traces?service=frontend&minDuration=100"),
    ("v1_search_max_below_min", "/api/traces?service=frontend&minDuration=1s&maxDuration=10ms"),
    ("v1_multiget", f"/api/traces?traceID={TRACE_B}&traceID=00000000000000c3&traceID=ff"),
    ("v1_multiget_bad", "/api/traces?traceID=xyz"),
    ("v1_trace", f"/api/traces/{TRACE_A}"),
    ("v1_trace_64bit", "/api/traces/c3"),
    ("v1_trace_missing", "/api/traces/abcdef"),
    ("v1_trace_bad", "/api/traces/not-hex!"),
    ("v1_trace_base64", "/api/traces/xyz-not-hex"),
    ("v1_trace_too_long", "/api/traces/" + "a" * 33),
    ("v1_dependencies", f"/api/dependencies?endTs={(T0 + 60 * S) // MS}&lookback=120000"),
    ("v1_dependencies_service", f"/api/dependencies?endTs={(T0 + 60 * S) // MS}&lookback=120000&service=redis"),
    ("v1_dependencies_bad", "/api/dependencies?endTs=noon"),
    ("v3_services", "/api/v3/services"),
    ("v3_operations", "/api/v3/operations?service=driver"),
    ("v3_operations_kind", "/api/v3/operations?service=frontend&span_kind=server"),
    ("v3_traces", f"/api/v3/traces?query.serviceName=driver&query.durationMin=100ms&{V3_WINDOW}"),
    ("v3_traces_snake", f"/api/v3/traces?query.service_name=frontend&query.operation_name=GET%20/config&query.start_time_min=2023-11-14T22:13:00Z&query.start_time_max=2023-11-14T22:15:00Z"),
    ("v3_traces_attributes", f"/api/v3/traces?query.attributes={quote(json.dumps({'driver.id': 'T7'}))}&{V3_WINDOW}"),
    ("v3_traces_none", f"/api/v3/traces?query.serviceName=nobody&{V3_WINDOW}"),
    ("v3_traces_no_time", "/api/v3/traces?query.serviceName=driver"),
    ("v3_traces_bad_time", "/api/v3/traces?query.startTimeMin=yesterday&query.startTimeMax=2023-11-14T22:15:00Z"),
    ("v3_traces_min_after_max", "/api/v3/traces?query.startTimeMin=2023-11-14T22:15:00Z&query.startTimeMax=2023-11-14T22:13:00Z"),
    ("v3_traces_bad_depth", f"/api/v3/traces?query.searchDepth=many&{V3_WINDOW}"),
    ("v3_trace_summaries", f"/api/v3/trace-summaries?query.searchDepth=20&{V3_WINDOW}"),
    ("v3_trace_summaries_none", f"/api/v3/trace-summaries?query.serviceName=nobody&{V3_WINDOW}"),
    ("v3_trace", f"/api/v3/traces/{TRACE_C}"),
    ("v3_trace_missing", "/api/v3/traces/abcdef"),
    ("v3_trace_bad", "/api/v3/traces/xyz-not-hex"),
    ("v3_trace_too_long", "/api/v3/traces/" + "a" * 33),
    ("unknown_path", "/api/nothing"),
]


@pytest.mark.parametrize("name,path", CASES, ids=[c[0] for c in CASES])
def test_golden(loaded, name, path):
    r = requests.get(loaded.url("query-http", path), timeout=10)
    try:
        body = r.json()
    except ValueError:
        body = r.text
    got = {"status": r.status_code, "content_type": r.headers.get("Content-Type"), "body": body}
    f = GOLDEN / f"{name}.json"
    if os.environ.get("SKUA_UPDATE_GOLDEN"):
        f.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert f.exists(), f"missing golden file {f.name}; run with SKUA_UPDATE_GOLDEN=1"
    assert got == json.loads(f.read_text())
