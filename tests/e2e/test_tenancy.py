"""Tenants, as real clients use them: the OpenTelemetry SDK exporting with an x-tenant header
(gRPC metadata and HTTP), and every query API (v1 and api_v3 over HTTP, api_v2 and api_v3 over
gRPC) asked by each tenant. The differential test has two tenants write interleaved traces with
the same services, operations, trace IDs and span IDs; no answer to one ever holds anything of
the other, before and after a restart."""

import random
import time

import grpc
import pytest
import requests
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, set_span_in_context

from conftest import metric_value
from test_query_grpc import SERVICE_V2, api, pool, v2  # noqa: F401

TENANTS = ["acme", "globex"]
TRACES_PER_TENANT = 6


class SeededIds(IdGenerator):
    """The same seed gives the same trace and span IDs: both tenants write identical IDs."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def generate_span_id(self):
        return self.rng.getrandbits(64) or 1

    def generate_trace_id(self):
        return self.rng.getrandbits(128) or 1


def tenant_traces(tenant, batch):
    """Batch `batch` of `tenant`: TRACES_PER_TENANT // 2 traces of task-api calling postgres,
    with IDs that depend on the batch only, an attribute naming the tenant, and an operation
    only this tenant has."""
    ids = SeededIds(batch)
    memory = InMemorySpanExporter()
    providers = {}
    for service in ("task-api", "postgres"):
        p = TracerProvider(resource=Resource.create({"service.name": service}), id_generator=ids)
        p.add_span_processor(SimpleSpanProcessor(memory))
        providers[service] = p
    api_tracer = providers["task-api"].get_tracer("e2e.tenancy")
    db_tracer = providers["postgres"].get_tracer("e2e.tenancy")
    for _ in range(TRACES_PER_TENANT // 2):
        with api_tracer.start_as_current_span("POST /tasks", kind=SpanKind.SERVER,
                                              attributes={"owner": tenant}) as root:
            with api_tracer.start_as_current_span(f"only-{tenant}", attributes={"owner": tenant}):
                pass
            with db_tracer.start_as_current_span("INSERT", kind=SpanKind.SERVER,
                                                 context=set_span_in_context(root),
                                                 attributes={"owner": tenant}):
                pass
    for p in providers.values():
        p.shutdown()
    return memory.get_finished_spans()


@pytest.fixture
def tenanted(skua_factory):
    return skua_factory(flags=["--tenancy.enabled=true", "--tenancy.tenants=acme,globex"]).start()


def q(skua, path, tenant, **params):
    headers = {} if tenant is None else {"x-tenant": tenant}
    return requests.get(skua.url("query-http", path), params=params, headers=headers, timeout=10)


def owners_v1(traces):
    return {tag["value"] for t in traces for s in t["spans"] for tag in s["tags"]
            if tag["key"] == "owner"}


def owners_otlp_json(result):
    return {a["value"]["stringValue"] for rs in result["resourceSpans"]
            for ss in rs["scopeSpans"] for s in ss["spans"] for a in s.get("attributes", [])
            if a["key"] == "owner"}


def owners_otlp(traces_data):
    return {a.value.string_value for td in traces_data for rs in td.resource_spans
            for ss in rs.scope_spans for s in ss.spans for a in s.attributes if a.key == "owner"}


def check_isolation(skua, trace_ids, api, v2):  # noqa: F811
    """Every API, asked by each tenant, answers with that tenant's data and nothing else."""
    now_us = int(time.time() * 1e6)
    for tenant in TENANTS:
        other = next(t for t in TENANTS if t != tenant)
        # v1
        assert q(skua, "/api/services", tenant).json()["data"] == ["postgres", "task-api"]
        ops = q(skua, "/api/services/task-api/operations", tenant).json()["data"]
        assert sorted(ops) == sorted(["POST /tasks", f"only-{tenant}"])
        ops = q(skua, "/api/operations", tenant, service="task-api").json()["data"]
        assert {o["name"] for o in ops} == {"POST /tasks", f"only-{tenant}"}
        found = q(skua, "/api/traces", tenant, service="task-api", limit=100).json()["data"]
        assert len(found) == len(trace_ids)
        assert owners_v1(found) == {tenant}
        # A search for the other tenant's marker finds nothing.
        assert q(skua, "/api/traces", tenant, service="postgres",
                 tags=f'{{"owner":"{other}"}}').json()["data"] == []
        for tid in trace_ids:
            t = q(skua, f"/api/traces/{tid}", tenant).json()["data"]
            assert len(t) == 1 and len(t[0]["spans"]) == 3
            assert owners_v1(t) == {tenant}
        deps = q(skua, "/api/dependencies", tenant, endTs=now_us // 1000 + 60000,
                 lookback=3600000).json()["data"]
        assert deps == [{"parent": "task-api", "child": "postgres",
                         "callCount": len(trace_ids)}]
        # api_v3 over HTTP
        assert q(skua, "/api/v3/services", tenant).json()["services"] == ["postgres", "task-api"]
        ops = q(skua, "/api/v3/operations", tenant, service="task-api").json()["operations"]
        assert {o["name"] for o in ops} == {"POST /tasks", f"only-{tenant}"}
        window = {"query.start_time_min": "2020-01-01T00:00:00Z",
                  "query.start_time_max": "2100-01-01T00:00:00Z"}
        res = q(skua, "/api/v3/traces", tenant, **{"query.service_name": "task-api"}, **window)
        assert owners_otlp_json(res.json()["result"]) == {tenant}
        res = q(skua, f"/api/v3/traces/{trace_ids[0]}", tenant)
        assert owners_otlp_json(res.json()["result"]) == {tenant}

        # gRPC: api_v3 and api_v2, the tenant in the metadata.
        md = (("x-tenant", tenant),)
        with grpc.insecure_channel(skua.addr["query-grpc"]) as ch:
            svcs = ch.unary_unary("/jaeger.api_v3.QueryService/GetServices",
                                  request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=api["GetServicesResponse"].FromString)(
                api["GetServicesRequest"](), metadata=md, timeout=10)
            assert list(svcs.services) == ["postgres", "task-api"]
            call = ch.unary_stream("/jaeger.api_v3.QueryService/GetTrace",
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=api["TracesData"].FromString)
            got = list(call(api["GetTraceRequest"](trace_id=trace_ids[0]), metadata=md, timeout=10))
            assert owners_otlp(got) == {tenant}
            req = api["FindTracesRequest"]()
            req.query.service_name = "postgres"
            req.query.start_time_min.FromSeconds(0)
            req.query.start_time_max.FromSeconds(int(time.time()) + 3600)
            call = ch.unary_stream("/jaeger.api_v3.QueryService/FindTraces",
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=api["TracesData"].FromString)
            got = list(call(req, metadata=md, timeout=10))
            assert len(got) == len(trace_ids) and owners_otlp(got) == {tenant}
            v2svcs = ch.unary_unary(SERVICE_V2 + "GetServices",
                                    request_serializer=lambda m: m.SerializeToString(),
                                    response_deserializer=v2["GetServicesResponse"].FromString)(
                v2["GetServicesRequest"](), metadata=md, timeout=10)
            assert list(v2svcs.services) == ["postgres", "task-api"]
            call = ch.unary_stream(SERVICE_V2 + "GetTrace",
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=v2["SpansResponseChunk"].FromString)
            chunks = list(call(v2["GetTraceRequest"](trace_id=bytes.fromhex(trace_ids[0])),
                               metadata=md, timeout=10))
            owners = {t.v_str for c in chunks for s in c.spans for t in s.tags if t.key == "owner"}
            assert owners == {tenant}
            dreq = v2["GetDependenciesRequest"]()
            dreq.start_time.FromSeconds(int(time.time()) - 3600)
            dreq.end_time.FromSeconds(int(time.time()) + 60)
            deps = ch.unary_unary(SERVICE_V2 + "GetDependencies",
                                  request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=v2["GetDependenciesResponse"].FromString)(
                dreq, metadata=md, timeout=10)
            assert [(d.parent, d.child, d.call_count) for d in deps.dependencies] == [
                ("task-api", "postgres", len(trace_ids))]


def test_two_tenants_with_identical_names_and_ids_never_see_each_other(tenanted, skua_factory,
                                                                         api, v2):  # noqa: F811
    trace_ids = set()
    # Interleaved batches, alternating tenants and protocols; both tenants' batch b has the same
    # trace and span IDs.
    for batch in range(2):
        for tenant in TENANTS:
            spans = tenant_traces(tenant, batch)
            trace_ids |= {format(s.context.trace_id, "032x") for s in spans}
            if (batch + TENANTS.index(tenant)) % 2 == 0:
                exporter = GrpcExporter(endpoint=f"http://{tenanted.grpc_target}", insecure=True,
                                        headers=(("x-tenant", tenant),))
            else:
                exporter = HttpExporter(endpoint=tenanted.url("otlp-http", "/v1/traces"),
                                        headers={"x-tenant": tenant})
            assert exporter.export(spans) == SpanExportResult.SUCCESS
            exporter.shutdown()
    trace_ids = sorted(trace_ids)
    assert len(trace_ids) == TRACES_PER_TENANT  # the same IDs in both tenants
    check_isolation(tenanted, trace_ids, api, v2)
    assert tenanted.stop() == 0
    tenanted.start()
    check_isolation(tenanted, trace_ids, api, v2)


def test_missing_tenant_is_401_unknown_is_403_on_every_port(tenanted, monkeypatch):
    spans = tenant_traces("acme", 7)
    # OTLP/HTTP: the SDK's exporter, its header from the environment as deployments set it.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=initech")
    http = HttpExporter(endpoint=tenanted.url("otlp-http", "/v1/traces"))
    assert http.export(spans) == SpanExportResult.FAILURE
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme")
    http = HttpExporter(endpoint=tenanted.url("otlp-http", "/v1/traces"))
    assert http.export(spans) == SpanExportResult.SUCCESS
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_HEADERS")
    body = b"\x0a\x00"  # one empty ResourceSpans
    for headers, status in (({}, 401), ({"x-tenant": ""}, 401), ({"x-tenant": "initech"}, 403),
                            ({"x-tenant": "../acme"}, 403)):
        r = requests.post(tenanted.url("otlp-http", "/v1/traces"), data=body,
                          headers={"Content-Type": "application/x-protobuf", **headers}, timeout=10)
        assert r.status_code == status, headers
        assert b"initech" not in r.content and b"globex" not in r.content
    # OTLP/gRPC, raw, to read the codes.
    with grpc.insecure_channel(tenanted.grpc_target) as ch:
        export = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                request_serializer=lambda b: b, response_deserializer=lambda b: b)
        for md, code in (((), grpc.StatusCode.UNAUTHENTICATED),
                         ((("x-tenant", "initech"),), grpc.StatusCode.PERMISSION_DENIED)):
            with pytest.raises(grpc.RpcError) as e:
                export(body, metadata=md, timeout=10)
            assert e.value.code() == code
        assert export(body, metadata=(("x-tenant", "globex"),), timeout=10) == b""
    # Query HTTP, both APIs, and query gRPC.
    for path in ("/api/services", "/api/v3/services", "/api/traces?service=task-api"):
        assert q(tenanted, path, None).status_code == 401
        assert q(tenanted, path, "initech").status_code == 403
        assert q(tenanted, path, "acme").status_code == 200
    with grpc.insecure_channel(tenanted.addr["query-grpc"]) as ch:
        services = ch.unary_unary("/jaeger.api_v3.QueryService/GetServices",
                                  request_serializer=lambda b: b, response_deserializer=lambda b: b)
        for md, code in (((), grpc.StatusCode.UNAUTHENTICATED),
                         ((("x-tenant", "initech"),), grpc.StatusCode.PERMISSION_DENIED)):
            with pytest.raises(grpc.RpcError) as e:
                services(b"", metadata=md, timeout=10)
            assert e.value.code() == code
        assert services(b"", metadata=(("x-tenant", "acme"),), timeout=10) is not None
    # Data written without tenancy stays apart too: after tenancy is turned off only it shows.
    assert tenanted.stop() == 0
    tenanted.flags = [f for f in tenanted.flags if not f.startswith("--tenancy")]
    tenanted.start()
    assert requests.get(tenanted.url("query-http", "/api/services"), timeout=10).json()["data"] == []


def test_tenant_rate_limit_and_tenant_count(skua_factory):
    skua = skua_factory(flags=["--tenancy.enabled=true", "--tenancy.max_spans_per_second=1",
                               "--tenancy.rate_overrides=bulk=0", "--tenancy.max_tenants=2",
                               "--collector.retry_after=2s"]).start()
    spans = tenant_traces("small", 0)  # 9 spans
    def post(tenant):
        return requests.post(skua.url("otlp-http", "/v1/traces"), data=encode_spans(spans).SerializeToString(),
                             headers={"Content-Type": "application/x-protobuf",
                                      "x-tenant": tenant}, timeout=10)

    # A request is admitted while the tenant is within its rate and charged in full: 9 spans at
    # 1 span/s put it over for the next 8 s, and it gets the usual retryable refusal.
    codes = [post("small").status_code for _ in range(4)]
    assert codes == [200, 429, 429, 429], codes
    refused = post("small")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "2"
    # gRPC: RESOURCE_EXHAUSTED with RetryInfo, which OTLP exporters retry after.
    with grpc.insecure_channel(skua.grpc_target) as ch:
        export = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as e:
            export(encode_spans(spans), metadata=(("x-tenant", "small"),), timeout=10)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        trailers = dict(e.value.trailing_metadata())
        assert "google.rpc.retryinfo-bin" in trailers
    # Another tenant is not held up; `bulk` has no limit.
    for _ in range(10):
        assert post("bulk").status_code == 200
    # Two tenants store data: a third is refused, not retryably.
    third = post("newcomer")
    assert third.status_code == 403
    m = skua.metrics()
    assert metric_value(m, "skua_spans_rejected_total", transport="http", reason="tenant_rate") == 36
    assert metric_value(m, "skua_spans_rejected_total", transport="grpc", reason="tenant_rate") == 9
    assert metric_value(m, "skua_spans_rejected_total", transport="http", reason="tenant_limit") == 9
    # After a restart the tenants with data still count.
    assert skua.stop() == 0
    skua.start()
    assert post("newcomer").status_code == 403
    assert post("bulk").status_code == 200
    # The refused tenant stored nothing.
    assert q(skua, "/api/services", "newcomer").json()["data"] == []
