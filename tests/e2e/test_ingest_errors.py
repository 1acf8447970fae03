"""OTLP ingest edge cases: invalid spans via partial success, HTTP status codes and bodies,
size limits, and backpressure with retry hints."""

import gzip
import json
import threading

import grpc
import pytest
import requests
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from conftest import metric_value


def make_request(trace_ids, spans_per_trace=1, payload=0, service="svc"):
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", service
    ss = rs.scope_spans.add()
    for t in trace_ids:
        for i in range(spans_per_trace):
            s = ss.spans.add()
            s.trace_id = t
            s.span_id = (i + 1).to_bytes(8, "big")
            s.name = "op"
            s.start_time_unix_nano, s.end_time_unix_nano = 1_700_000_000_000_000_000, 1_700_000_000_100_000_000
            a = s.attributes.add()
            a.key, a.value.string_value = "trace.hex", t.hex().lstrip("0")
            if payload:
                a = s.attributes.add()
                a.key, a.value.string_value = "payload", "x" * payload
    return req


def tid(n):
    return n.to_bytes(16, "big")


def grpc_export(skua, req, compression=None):
    with grpc.insecure_channel(skua.grpc_target) as ch:
        stub = trace_service_pb2_grpc.TraceServiceStub(ch)
        return stub.Export(req, timeout=10, compression=compression)


def post(skua, body, content_type="application/x-protobuf", headers=None, method="POST", path="/v1/traces"):
    h = {"Content-Type": content_type, **(headers or {})}
    return requests.request(method, skua.url("otlp-http", path), data=body, headers=h, timeout=10)


def test_grpc_rejects_invalid_spans_individually(skua):
    req = make_request([tid(0x51), tid(0x52)])
    spans = req.resource_spans[0].scope_spans[0].spans
    bad = spans.add()
    bad.CopyFrom(spans[0])
    bad.trace_id = b"\x01" * 15  # wrong length
    zero = spans.add()
    zero.CopyFrom(spans[0])
    zero.trace_id = bytes(16)  # all zero
    nospan = spans.add()
    nospan.CopyFrom(spans[0])
    nospan.span_id = bytes(8)
    resp = grpc_export(skua, req)
    assert resp.HasField("partial_success")
    assert resp.partial_success.rejected_spans == 3
    assert "trace_id must be 16 bytes" in resp.partial_success.error_message
    for t in ("51", "52"):
        assert skua.get_trace(t).status_code == 200
    m = skua.metrics()
    assert metric_value(m, "skua_spans_rejected_total", transport="grpc", reason="invalid") == 3
    assert metric_value(m, "skua_spans_accepted_total", transport="grpc") == 2


def test_grpc_full_success_has_no_partial_success_and_empty_request_succeeds(skua):
    resp = grpc_export(skua, make_request([tid(0x60)]), compression=grpc.Compression.Gzip)
    assert not resp.HasField("partial_success")
    assert not grpc_export(skua, trace_service_pb2.ExportTraceServiceRequest()).HasField("partial_success")


def test_grpc_message_over_the_limit_is_resource_exhausted(skua_factory):
    skua = skua_factory(["--collector.otlp.grpc.max_recv_msg_size=64KiB"]).start()
    with pytest.raises(grpc.RpcError) as err:
        grpc_export(skua, make_request([tid(0x70)], payload=100_000))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in err.value.details()
    assert skua.get_trace("70").status_code == 404
    # Within the limit still works.
    grpc_export(skua, make_request([tid(0x71)], payload=1000))
    assert skua.get_trace("71").status_code == 200


def test_http_json_partial_success(skua):
    body = {
        "resourceSpans": [{"scopeSpans": [{"spans": [
            {"traceId": "00000000000000000000000000000081", "spanId": "0000000000000001", "name": "ok"},
            {"traceId": "0081", "spanId": "0000000000000002", "name": "short id"},
        ]}]}]
    }
    r = post(skua, json.dumps(body), "application/json; charset=utf-8")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    ps = r.json()["partialSuccess"]
    assert ps["rejectedSpans"] == "1"
    assert "spans[1]: trace_id must be 16 bytes" in ps["errorMessage"]
    assert skua.get_trace("81").status_code == 200


def test_http_protobuf_response_and_gzip(skua):
    body = gzip.compress(make_request([tid(0x90)]).SerializeToString())
    r = post(skua, body, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/x-protobuf"
    resp = trace_service_pb2.ExportTraceServiceResponse.FromString(r.content)
    assert not resp.HasField("partial_success")
    assert skua.get_trace("90").status_code == 200
    r = post(skua, gzip.compress(json.dumps({"resource_spans": []}).encode()), "application/json",
             headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json() == {}


def test_http_undecodable_bodies_are_400_with_a_status_naming_the_problem(skua):
    r = post(skua, b"\xff\xff\xff\xff garbage")
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/x-protobuf"
    st = status_pb2.Status.FromString(r.content)
    assert st.code == 3 and "protobuf" in st.message

    r = post(skua, '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}', "application/json")
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/json"
    assert "resourceSpans[0].scopeSpans[0].spans[0].traceId" in r.json()["message"]
    assert r.json()["code"] == 3

    r = post(skua, "{not json", "application/json")
    assert r.status_code == 400 and "invalid JSON" in r.json()["message"]

    r = post(skua, b"not gzip at all", headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400
    assert "gzip" in status_pb2.Status.FromString(r.content).message


def test_http_wrong_type_method_path_and_size(skua_factory):
    skua = skua_factory(["--collector.otlp.http.max_request_body_size=8KiB"]).start()
    r = post(skua, "x", "text/plain")
    assert r.status_code == 415
    assert "application/json, application/x-protobuf" in r.text
    assert post(skua, b"", method="GET").status_code == 405
    assert post(skua, b"", method="PUT").status_code == 405
    assert post(skua, b"", path="/v1/logs").status_code == 404
    assert post(skua, b"", path="/").status_code == 404

    big = make_request([tid(0xA0)], payload=20_000).SerializeToString()
    r = post(skua, big)
    assert r.status_code == 413
    assert "limit" in status_pb2.Status.FromString(r.content).message
    # A compressed body under the wire limit that inflates past the limit is refused too.
    r = post(skua, gzip.compress(big), headers={"Content-Encoding": "gzip"})
    assert len(gzip.compress(big)) < 8192 and r.status_code == 413
    assert skua.get_trace("a0").status_code == 404
    r = post(skua, b"", headers={"Content-Encoding": "br"})
    assert r.status_code == 415
    assert metric_value(skua.metrics(), "skua_otlp_http_bad_requests_total") >= 7


def test_full_queue_refuses_with_retry_hints(skua_factory):
    """A queue smaller than one request: every export is refused at once with a retryable
    answer, nothing is stored, and the refusals are counted."""
    skua = skua_factory(["--collector.queue.max_bytes=512", "--collector.retry_after=2s",
                         "--storage.shards=1"]).start()
    req = make_request([tid(0xB0 + i) for i in range(8)], spans_per_trace=4, payload=64)

    with pytest.raises(grpc.RpcError) as err:
        grpc_export(skua, req)
    e = err.value
    assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "queue" in e.details()
    trailers = dict(e.trailing_metadata())
    retry = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
    assert retry.retry_delay.seconds == 2
    rich = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    assert rich.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    details = error_details_pb2.RetryInfo()
    assert rich.details[0].Unpack(details) and details.retry_delay.seconds == 2

    r = post(skua, req.SerializeToString())
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "2"
    assert "queue" in status_pb2.Status.FromString(r.content).message

    assert skua.get_trace("b0").status_code == 404
    m = skua.metrics()
    assert metric_value(m, "skua_spans_rejected_total", transport="grpc", reason="queue_full") == 32
    assert metric_value(m, "skua_spans_rejected_total", transport="http", reason="queue_full") == 32
    assert metric_value(m, "skua_ingest_queue_bytes", shard="0") == 0


def test_queue_bound_holds_under_concurrent_load(skua_factory):
    """Many concurrent exporters against a small queue: the queued bytes never pass the bound,
    every export either succeeds (and is stored) or is refused with a retryable code."""
    skua = skua_factory(["--collector.queue.max_bytes=16KiB"]).start()
    acked, refused, errors = [], [], []
    lock = threading.Lock()

    def sender(worker):
        with grpc.insecure_channel(skua.grpc_target) as ch:
            stub = trace_service_pb2_grpc.TraceServiceStub(ch)
            for i in range(40):
                t = (worker << 16) | (i + 1)
                try:
                    stub.Export(make_request([tid(t)], spans_per_trace=10, payload=100), timeout=10)
                    with lock:
                        acked.append(t)
                except grpc.RpcError as e:
                    with lock:
                        (refused if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED else errors).append(e)

    threads = [threading.Thread(target=sender, args=(w + 1,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(acked) + len(refused) == 320
    assert acked, "some exports must get through"
    for t in acked:
        r = skua.get_trace(format(t, "x"))
        assert r.status_code == 200 and len(r.json()["data"][0]["spans"]) == 10
    m = skua.metrics()
    assert metric_value(m, "skua_spans_rejected_total", transport="grpc", reason="queue_full") == 10 * len(refused)
    for shard in ("0", "1"):
        assert metric_value(m, "skua_ingest_queue_bytes", shard=shard) == 0
