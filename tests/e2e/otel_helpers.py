"""Builds traces with the real OpenTelemetry Python SDK and exports them with its real exporters."""

import base64
import json

import grpc
import requests
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

ID_KEYS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}


def _ids_to_hex(node):
    """Proto JSON has base64 IDs; OTLP/JSON wants hex."""
    if isinstance(node, dict):
        return {
            k: (base64.b64decode(v).hex() if k in ID_KEYS and isinstance(v, str) else _ids_to_hex(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_ids_to_hex(v) for v in node]
    return node


class OtlpJsonExporter(SpanExporter):
    """OTLP/HTTP with JSON bodies. The Python SDK ships only protobuf over HTTP, so this encodes
    the SDK's own protobuf request as OTLP/JSON (hex IDs, integer enums, int64 as strings)."""

    def __init__(self, endpoint, snake_case=False):
        self.endpoint = endpoint
        self.snake_case = snake_case

    def export(self, spans):
        msg = encode_spans(spans)
        body = json_format.MessageToDict(
            msg, use_integers_for_enums=True, preserving_proto_field_name=self.snake_case
        )
        resp = requests.post(
            self.endpoint,
            data=json.dumps(_ids_to_hex(body)),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        self.last_response = resp
        return SpanExportResult.SUCCESS if resp.status_code == 200 else SpanExportResult.FAILURE

    def shutdown(self):
        pass


def make_exporter(kind, skua):
    if kind == "grpc":
        return GrpcExporter(endpoint=f"http://{skua.grpc_target}", insecure=True)
    if kind == "grpc-gzip":
        return GrpcExporter(
            endpoint=f"http://{skua.grpc_target}", insecure=True, compression=grpc.Compression.Gzip
        )
    if kind == "http-protobuf":
        return HttpExporter(endpoint=skua.url("otlp-http", "/v1/traces"))
    if kind == "http-protobuf-gzip":
        return HttpExporter(
            endpoint=skua.url("otlp-http", "/v1/traces"), compression=HttpCompression.Gzip
        )
    if kind == "http-json":
        return OtlpJsonExporter(skua.url("otlp-http", "/v1/traces"))
    if kind == "http-json-snake":
        return OtlpJsonExporter(skua.url("otlp-http", "/v1/traces"), snake_case=True)
    raise ValueError(kind)


RESOURCE_ATTRS = {
    "service.name": "task-api",
    "service.version": "1.4.2",
    "host.name": "node-7",
    "k8s.pod.name": "task-api-5d9f",
    "process.pid": 4242,
    "resource.canary": True,
    "resource.weight": 0.75,
}

ROOT_ATTRS = {
    "http.method": "POST",
    "http.status_code": 500,
    "http.big": 2**60,
    "ratio": 0.25,
    "retried": False,
    "tags.list": ["a", "b"],
    "ints.list": [1, 2, 3],
    "bools.list": [True, False],
    "floats.list": [1.5, 2.5],
}


def build_trace(service="task-api"):
    """Creates one 3-span trace (root, child with an event, errored child with a link) plus an
    unrelated single-span trace that the link points to. Returns the finished SDK spans."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({**RESOURCE_ATTRS, "service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("e2e.tracer", "9.9.9")
    with tracer.start_as_current_span("upstream", kind=SpanKind.CONSUMER) as other:
        other_ctx = other.get_span_context()
    with tracer.start_as_current_span("POST /tasks", kind=SpanKind.SERVER, attributes=ROOT_ATTRS):
        with tracer.start_as_current_span("validate_task") as v:
            v.add_event("validated", {"rule.count": 3, "strict": True, "rule": "len"})
        with tracer.start_as_current_span(
            "save_to_database", kind=SpanKind.CLIENT, links=[Link(other_ctx, {"link.kind": "cause"})]
        ) as db:
            db.set_attribute("db.system", "postgresql")
            db.set_status(Status(StatusCode.ERROR, "constraint violated"))
    provider.shutdown()
    return memory.get_finished_spans()
