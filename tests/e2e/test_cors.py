"""CORS on the OTLP/HTTP and query HTTP ports, as a browser uses them: a preflight, then the
request; nothing allowed unless configured."""

import requests

from test_ingest_errors import make_request


def preflight(url, origin, method, headers=""):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(url, headers=h, timeout=10)


def test_cors_is_off_by_default(skua_factory):
    skua = skua_factory().start()
    r = preflight(skua.url("otlp-http", "/v1/traces"), "https://app.example", "POST")
    assert r.status_code == 405
    assert "Access-Control-Allow-Origin" not in r.headers


def test_browser_exporter_and_query_page_of_allowed_origins(skua_factory):
    skua = skua_factory(flags=[
        "--collector.otlp.http.cors.allowed_origins=https://app.example",
        "--collector.otlp.http.cors.max_age=10m",
        "--query.http.cors.allowed_origins=https://*.grafana.example",
    ]).start()
    url = skua.url("otlp-http", "/v1/traces")
    r = preflight(url, "https://app.example", "POST", "content-type")
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert r.headers["Access-Control-Allow-Methods"] == "POST"
    assert r.headers["Access-Control-Allow-Headers"] == "content-type"
    assert r.headers["Access-Control-Max-Age"] == "600"

    body = make_request([bytes.fromhex("0c" * 16)]).SerializeToString()
    r = requests.post(url, data=body, timeout=10, headers={
        "Origin": "https://app.example", "Content-Type": "application/x-protobuf"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"

    other = preflight(url, "https://evil.example", "POST", "content-type")
    assert other.status_code == 204 and "Access-Control-Allow-Origin" not in other.headers

    q = skua.url("query-http", "/api/services")
    r = preflight(q, "https://eu.grafana.example", "GET")
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "https://eu.grafana.example"
    r = requests.get(q, headers={"Origin": "https://eu.grafana.example"}, timeout=10)
    assert r.status_code == 200 and r.json()["data"] == ["svc"]
    assert r.headers["Access-Control-Allow-Origin"] == "https://eu.grafana.example"
    assert preflight(q, "https://eu.grafana.example", "POST").headers.get(
        "Access-Control-Allow-Origin") is None
