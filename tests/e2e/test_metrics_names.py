"""The metrics Skua exposes on /metrics keep their names, types, label names and histogram
buckets: the set is compared with a golden list (written from the exposition before metrics
moved to prometheus-cpp). Label order and sample order within the text may differ."""

import re
import time
from pathlib import Path

import grpc
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

GOLDEN = Path(__file__).parent / "golden" / "metrics_names.txt"
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def describe(text):
    """One line per family: name, type, its label names; for histograms their bucket bounds."""
    types, labels, buckets = {}, {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            labels.setdefault(name, set())
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a Prometheus sample: {line!r}"
        name, raw = m.group(1), m.group(2) or ""
        pairs = dict(LABEL_RE.findall(raw))
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and types.get(base) == "histogram":
                family = base
        if family != name and name.endswith("_bucket"):
            buckets.setdefault(family, set()).add(pairs.pop("le"))
        labels.setdefault(family, set()).update(pairs)
    out = []
    for name in sorted(types):
        out.append(f"{name} {types[name]} {','.join(sorted(labels[name]))}")
        if name in buckets:
            bounds = sorted(buckets[name], key=lambda b: float(b.replace("+Inf", "inf")))
            out.append(f"{name} buckets {','.join(bounds)}")
    return out


def exercise(skua):
    """Makes every family that appears on use appear: ingest over both transports (accepted,
    invalid and refused spans, a bad HTTP request), and queries over HTTP."""
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "names"
    ss = rs.scope_spans.add()
    for i in range(2):
        s = ss.spans.add()
        s.trace_id = (7).to_bytes(16, "big")
        s.span_id = (i + 1).to_bytes(8, "big") if i == 0 else b"\0" * 8  # one invalid span
        s.name = "op"
        s.start_time_unix_nano, s.end_time_unix_nano = time.time_ns(), time.time_ns() + 1000
    with grpc.insecure_channel(skua.grpc_target) as ch:
        trace_service_pb2_grpc.TraceServiceStub(ch).Export(req, timeout=10)
    url = skua.url("otlp-http", "/v1/traces")
    headers = {"Content-Type": "application/x-protobuf"}
    assert requests.post(url, data=req.SerializeToString(), headers=headers, timeout=10).ok
    assert requests.post(url, data=b"\xff\xff", headers=headers, timeout=10).status_code == 400
    requests.get(skua.url("query-http", "/api/services"), timeout=10)
    requests.get(skua.url("query-http", "/api/traces?service=names"), timeout=10)


def test_metric_names_types_labels_and_buckets_are_unchanged(skua_factory):
    skua = skua_factory().start()
    exercise(skua)
    got = describe(skua.metrics())
    want = GOLDEN.read_text().splitlines()
    assert got == want, "\n".join(
        ["/metrics families differ from tests/e2e/golden/metrics_names.txt:"]
        + [f"- {line}" for line in want if line not in got]
        + [f"+ {line}" for line in got if line not in want]
    )
