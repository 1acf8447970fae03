"""Authentication as real clients use it: the OpenTelemetry SDK exporting with
OTEL_EXPORTER_OTLP_HEADERS (gRPC and HTTP), Grafana's Jaeger data source with basic auth, gRPC
query clients with a bearer token, and /metrics behind the admin port's credentials; tokens
rotated by rewriting their file; secrets never in the log."""

import base64
import time
import warnings

import grpc
import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_helpers import build_trace

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # libxcrypt's bcrypt, as `htpasswd -B` writes it

INGEST_TOKEN = "ingest-7f3a9c1e5b"
QUERY_TOKEN = "query-2d8e4b6a0c"
METRICS_TOKEN = "metrics-9b1c3d5e7f"
GRAFANA_PASSWORD = "gr4fana-pw"


def bcrypt(password):
    return crypt.crypt(password, "$2b$05$" + "skuaskuaskuaskuaskuaOu")


def wait_until(fn, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def secured(skua_factory, tmp_path):
    files = {
        "ingest": tmp_path / "ingest-tokens",
        "query": tmp_path / "query-tokens",
        "metrics": tmp_path / "metrics-tokens",
        "htpasswd": tmp_path / "htpasswd",
    }
    files["ingest"].write_text(f"# exporters\n{INGEST_TOKEN}\n")
    files["query"].write_text(QUERY_TOKEN + "\n")
    files["metrics"].write_text(METRICS_TOKEN + "\n")
    files["htpasswd"].write_text(f"grafana:{bcrypt(GRAFANA_PASSWORD)}\n")
    skua = skua_factory(flags=[
        f"--collector.otlp.grpc.auth.bearer_tokens_file={files['ingest']}",
        f"--collector.otlp.http.auth.bearer_tokens_file={files['ingest']}",
        f"--query.http.auth.htpasswd_file={files['htpasswd']}",
        f"--query.http.auth.bearer_tokens_file={files['query']}",
        f"--query.grpc.auth.bearer_tokens_file={files['query']}",
        f"--admin.auth.bearer_tokens_file={files['metrics']}",
    ]).start()
    skua.files = files
    return skua


def test_sdk_exports_with_the_header_from_the_environment(secured, monkeypatch):
    spans = build_trace()
    root = next(s for s in spans if s.name == "POST /tasks")
    trace_id = format(root.context.trace_id, "032x")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer%20{INGEST_TOKEN}")
    grpc_exporter = GrpcExporter(endpoint=f"http://{secured.grpc_target}", insecure=True)
    http_exporter = HttpExporter(endpoint=secured.url("otlp-http", "/v1/traces"))
    assert grpc_exporter.export(spans) == SpanExportResult.SUCCESS
    assert http_exporter.export(spans) == SpanExportResult.SUCCESS
    grpc_exporter.shutdown()
    http_exporter.shutdown()

    r = requests.get(secured.url("query-http", f"/api/traces/{trace_id}"),
                     auth=("grafana", GRAFANA_PASSWORD), timeout=10)
    assert r.status_code == 200
    assert len(r.json()["data"][0]["spans"]) == 3


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Bearer {QUERY_TOKEN}", "Basic Zm9vOmJhcg=="])
def test_exports_without_the_ingest_token_are_refused(secured, header):
    spans = build_trace()
    md = [("authorization", header)] if header else []
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
    with grpc.insecure_channel(secured.grpc_target) as ch:
        with pytest.raises(grpc.RpcError) as e:
            trace_service_pb2_grpc.TraceServiceStub(ch).Export(encode_spans(spans), metadata=md,
                                                              timeout=10)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    headers = {"Content-Type": "application/x-protobuf"}
    if header:
        headers["Authorization"] = header
    r = requests.post(secured.url("otlp-http", "/v1/traces"),
                      data=encode_spans(spans).SerializeToString(), headers=headers, timeout=10)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    # Nothing was stored.
    trace_id = format(spans[0].context.trace_id, "032x")
    r = requests.get(secured.url("query-http", f"/api/traces/{trace_id}"),
                     headers={"Authorization": f"Bearer {QUERY_TOKEN}"}, timeout=10)
    assert r.status_code == 404


def test_query_api_with_grafana_basic_auth_and_bearer_tokens(secured):
    url = secured.url("query-http", "/api/services")
    assert requests.get(url, auth=("grafana", GRAFANA_PASSWORD), timeout=10).status_code == 200
    assert requests.get(url, headers={"Authorization": f"Bearer {QUERY_TOKEN}"},
                        timeout=10).status_code == 200
    for auth in [None, ("grafana", "wrong"), ("admin", GRAFANA_PASSWORD)]:
        r = requests.get(url, auth=auth, timeout=10)
        assert r.status_code == 401
        assert "Basic" in r.headers["WWW-Authenticate"]
    # Exporters' tokens are not the query's.
    r = requests.get(url, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}, timeout=10)
    assert r.status_code == 401

    # api_v3 GetServices with an empty request, as raw bytes (no generated stubs needed).
    with grpc.insecure_channel(secured.addr["query-grpc"]) as ch:
        get_services = ch.unary_unary("/jaeger.api_v3.QueryService/GetServices",
                                      request_serializer=lambda b: b,
                                      response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as e:
            get_services(b"", timeout=10)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert get_services(b"", timeout=10,
                            metadata=[("authorization", f"Bearer {QUERY_TOKEN}")]) == b""


def test_metrics_need_credentials_probes_do_not(secured):
    assert requests.get(secured.url("admin", "/healthz"), timeout=10).status_code == 200
    assert requests.get(secured.url("admin", "/readyz"), timeout=10).status_code == 200
    assert requests.get(secured.url("admin", "/metrics"), timeout=10).status_code == 401
    r = requests.get(secured.url("admin", "/metrics"),
                     headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert r.status_code == 200 and "skua_storage_write_batches_total" in r.text


def test_tokens_rotate_by_rewriting_the_file(secured):
    url = secured.url("admin", "/metrics")
    tmp = secured.files["metrics"].with_suffix(".new")
    tmp.write_text("metrics-rotated-4e2f\n")
    tmp.rename(secured.files["metrics"])  # as Kubernetes swaps a Secret's files

    def rotated():
        new = requests.get(url, headers={"Authorization": "Bearer metrics-rotated-4e2f"}, timeout=10)
        return new.status_code == 200

    assert wait_until(rotated)
    old = requests.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert old.status_code == 401


def test_no_secret_in_the_log(secured):
    requests.get(secured.url("query-http", "/api/services"), auth=("grafana", "wrong"), timeout=10)
    requests.get(secured.url("admin", "/metrics"), headers={"Authorization": "Bearer guess"},
                 timeout=10)
    log = secured.log()
    for secret in [INGEST_TOKEN, QUERY_TOKEN, METRICS_TOKEN, GRAFANA_PASSWORD, "guess", "$2b$"]:
        assert secret not in log


def test_unusable_credential_files_stop_the_start(skua_factory, tmp_path):
    bad = tmp_path / "htpasswd"
    bad.write_text("alice:{SHA}fakefakefake=\n")
    skua = skua_factory(flags=[f"--query.http.auth.htpasswd_file={bad}"])
    with pytest.raises(RuntimeError) as e:
        skua.start()
    assert "query.http.auth" in str(e.value) and "line 1" in str(e.value)
    assert "fakefake" not in str(e.value)
