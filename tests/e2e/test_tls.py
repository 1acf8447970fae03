"""TLS and mutual TLS on every listener, with real clients: the OpenTelemetry SDK exporting
over gRPC and HTTP with OTEL_EXPORTER_OTLP_CERTIFICATE (and a client certificate), the query API
over HTTPS, clients without a certificate refused, the minimum TLS version, and certificate
files replaced while Skua runs. Certificates are made by the test with openssl."""

import socket
import ssl
import subprocess
import time

import grpc
import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_helpers import build_trace


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def issue(d, name, ca="ca", san="IP:127.0.0.1,DNS:localhost"):
    """A key and a certificate `name` signed by the CA `ca` (in directory d)."""
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}", cwd=d)
    (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out",
                f"{ca}.crt", "-days", "2", "-subj", f"/CN={ca}", cwd=d)
    issue(d, "server")
    issue(d, "server2")  # the rotated certificate
    issue(d, "client", san="DNS:exporter")
    issue(d, "intruder", san="DNS:intruder")  # trusted CA, name not accepted
    issue(d, "stranger", ca="other-ca", san="DNS:stranger")
    return d


def tls_flags(prefix, pki, server_dir, client_ca=False):
    flags = [f"--{prefix}.tls.cert_file={server_dir / 'server.crt'}",
             f"--{prefix}.tls.key_file={server_dir / 'server.key'}"]
    if client_ca:
        flags.append(f"--{prefix}.tls.client_ca_file={pki / 'ca.crt'}")
    return flags


@pytest.fixture
def tls_skua(skua_factory, pki, tmp_path):
    # The server's files are copies, so a test can replace them.
    live = tmp_path / "live"
    live.mkdir()
    for f in ("server.crt", "server.key"):
        (live / f).write_bytes((pki / f).read_bytes())
    flags = (tls_flags("collector.otlp.grpc", pki, live, client_ca=True)
             + tls_flags("collector.otlp.http", pki, live, client_ca=True)
             + tls_flags("query.http", pki, live)
             + tls_flags("query.grpc", pki, live)
             + tls_flags("admin", pki, live))
    skua = skua_factory(flags=flags).start()
    skua.live = live
    return skua


def test_sdk_exports_over_mutual_tls(tls_skua, pki, monkeypatch):
    # requests prefers these variables to the exporter's session setting; a machine that sets
    # them would make the exporter ignore OTEL_EXPORTER_OTLP_CERTIFICATE.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(pki / "ca.crt"))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", str(pki / "client.crt"))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", str(pki / "client.key"))
    spans = build_trace()
    root = next(s for s in spans if s.name == "POST /tasks")
    grpc_exporter = GrpcExporter(endpoint=f"https://{tls_skua.grpc_target}")
    http_port = tls_skua.addr["otlp-http"].rsplit(":", 1)[1]
    http_exporter = HttpExporter(endpoint=f"https://127.0.0.1:{http_port}/v1/traces")
    assert grpc_exporter.export(spans) == SpanExportResult.SUCCESS
    assert http_exporter.export(spans) == SpanExportResult.SUCCESS
    grpc_exporter.shutdown()
    http_exporter.shutdown()

    q = f"https://{tls_skua.addr['query-http']}/api/traces/{format(root.context.trace_id, '032x')}"
    r = requests.get(q, verify=str(pki / "ca.crt"), timeout=10)
    assert r.status_code == 200 and len(r.json()["data"][0]["spans"]) == 3


def test_clients_without_a_trusted_certificate_are_refused(tls_skua, pki):
    url = f"https://{tls_skua.addr['otlp-http']}/v1/traces"
    for cert in [None, (str(pki / "stranger.crt"), str(pki / "stranger.key"))]:
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.post(url, data=b"", verify=str(pki / "ca.crt"), cert=cert, timeout=10,
                          headers={"Content-Type": "application/x-protobuf"})
    ok = requests.post(url, data=b"", verify=str(pki / "ca.crt"), timeout=10,
                       cert=(str(pki / "client.crt"), str(pki / "client.key")),
                       headers={"Content-Type": "application/x-protobuf"})
    assert ok.status_code == 200

    creds = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.crt").read_bytes())
    with grpc.secure_channel(tls_skua.grpc_target, creds) as ch:
        export = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as e:
            export(b"", timeout=10)
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE


def test_plaintext_and_untrusting_clients_get_nothing(tls_skua, pki):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://{tls_skua.addr['query-http']}/api/services", timeout=10)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://{tls_skua.addr['query-http']}/api/services", timeout=10)
    r = requests.get(f"https://{tls_skua.addr['admin']}/metrics", verify=str(pki / "ca.crt"),
                     timeout=10)
    assert r.status_code == 200
    creds = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.crt").read_bytes())
    with grpc.secure_channel(tls_skua.addr["query-grpc"], creds) as ch:
        services = ch.unary_unary("/jaeger.api_v3.QueryService/GetServices",
                                  request_serializer=lambda b: b, response_deserializer=lambda b: b)
        assert services(b"", timeout=10) == b""


def peer_serial(address, ca):
    host, port = address.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            return s.getpeercert()["serialNumber"]


def test_certificates_rotate_while_connected(tls_skua, pki):
    ca = pki / "ca.crt"
    before = {name: peer_serial(tls_skua.addr[name], ca)
              for name in ("query-http", "query-grpc")}
    session = requests.Session()
    url = f"https://{tls_skua.addr['query-http']}/api/services"
    assert session.get(url, verify=str(ca), timeout=10).status_code == 200
    # Replaced as Kubernetes updates a Secret: new files renamed into place.
    for f in ("server.crt", "server.key"):
        tmp = tls_skua.live / (f + ".new")
        tmp.write_bytes((pki / f.replace("server", "server2")).read_bytes())
        tmp.rename(tls_skua.live / f)
    deadline = time.time() + 10
    rotated = {}
    while time.time() < deadline and len(rotated) < 2:
        for name in ("query-http", "query-grpc"):
            serial = peer_serial(tls_skua.addr[name], ca)
            if serial != before[name]:
                rotated[name] = serial
        time.sleep(0.3)
    assert set(rotated) == {"query-http", "query-grpc"}
    # The connection made before the rotation goes on working.
    assert session.get(url, verify=str(ca), timeout=10).status_code == 200


def test_minimum_tls_version(skua_factory, pki):
    skua = skua_factory(flags=tls_flags("query.http", pki, pki) + ["--query.http.tls.min_version=1.3"]).start()
    host, port = skua.addr["query-http"].rsplit(":", 1)
    old = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            old.wrap_socket(raw, server_hostname=host)
    new = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with new.wrap_socket(raw, server_hostname=host) as s:
            assert s.version() == "TLSv1.3"


def test_unusable_tls_files_stop_the_start(skua_factory, pki, tmp_path):
    skua = skua_factory(flags=[f"--query.http.tls.cert_file={pki / 'server.crt'}",
                               f"--query.http.tls.key_file={pki / 'client.key'}"])
    with pytest.raises(RuntimeError) as e:
        skua.start()
    assert "is not the key of the certificate" in str(e.value)
    assert "PRIVATE KEY" not in str(e.value)


def test_client_certificate_names_as_credentials(skua_factory, pki, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("fallback-token\n")
    flags = []
    for prefix in ("collector.otlp.grpc", "collector.otlp.http"):
        flags += tls_flags(prefix, pki, pki, client_ca=True) + [
            f"--{prefix}.tls.client_auth=verify-if-given",
            f"--{prefix}.auth.client_cert_names=exporter",
            f"--{prefix}.auth.bearer_tokens_file={tokens}"]
    skua = skua_factory(flags=flags).start()
    url = f"https://{skua.addr['otlp-http']}/v1/traces"
    ca = str(pki / "ca.crt")
    post = lambda **kw: requests.post(url, data=b"", verify=ca, timeout=10,  # noqa: E731
                                      headers={"Content-Type": "application/x-protobuf",
                                               **kw.pop("headers", {})}, **kw)
    assert post(cert=(str(pki / "client.crt"), str(pki / "client.key"))).status_code == 200
    assert post(cert=(str(pki / "intruder.crt"), str(pki / "intruder.key"))).status_code == 401
    assert post().status_code == 401  # no certificate (allowed by verify-if-given), no token
    assert post(headers={"Authorization": "Bearer fallback-token"}).status_code == 200

    def export(name):
        creds = grpc.ssl_channel_credentials(
            root_certificates=(pki / "ca.crt").read_bytes(),
            private_key=(pki / f"{name}.key").read_bytes(),
            certificate_chain=(pki / f"{name}.crt").read_bytes())
        with grpc.secure_channel(skua.grpc_target, creds) as ch:
            call = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                  request_serializer=lambda b: b,
                                  response_deserializer=lambda b: b)
            return call(b"", timeout=10)

    assert export("client") == b""
    with pytest.raises(grpc.RpcError) as e:
        export("intruder")
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
