"""Autocomplete over the whole retention: attribute keys per service and level, values per key
(most frequent first, prefix, limit), through Skua's /api/v3/attribute-keys and
/api/v3/attribute-values and Tempo's tag endpoints as Grafana's Tempo data source calls them;
data exported by the real OpenTelemetry SDK; answers survive a restart; bad parameters are
refused naming them."""

import http.client

import requests

from otel_helpers import build_trace, make_exporter


def export_all(skua, services=("task-api",)):
    exporter = make_exporter("grpc", skua)
    for service in services:
        assert exporter.export(build_trace(service)).name == "SUCCESS"
    exporter.shutdown()


def get(skua, path, **params):
    return requests.get(skua.url("query-http", path), params=params, timeout=10)


def keys(skua, **params):
    r = get(skua, "/api/v3/attribute-keys", **params)
    assert r.status_code == 200, r.text
    return {(k["level"], k["key"]): k["count"] for k in r.json()["keys"]}


def values(skua, **params):
    r = get(skua, "/api/v3/attribute-values", **params)
    assert r.status_code == 200, r.text
    return r.json()


def test_keys_and_values_of_sdk_spans_by_level(skua):
    export_all(skua, ("task-api", "billing"))
    export_all(skua, ("task-api",))
    k = keys(skua, service="task-api")
    # build_trace: 4 spans per export under one resource, a root with http.method, an event on
    # validate_task, a link on save_to_database; exported twice for task-api.
    assert k[("span", "http.method")] == 2
    assert k[("span", "db.system")] == 2
    assert k[("event", "rule.count")] == 2
    assert k[("link", "link.kind")] == 2
    assert k[("resource", "service.version")] == 8
    assert ("span", "tags.list") in k  # an array: its key is listed, its values are not
    assert all(level in {"span", "resource", "scope", "event", "link"} for level, _ in k)
    assert keys(skua, service="task-api", level="event") == {("event", "rule.count"): 2,
                                                             ("event", "strict"): 2,
                                                             ("event", "rule"): 2}
    assert set(keys(skua, service="task-api", prefix="http.")) == {
        ("span", "http.method"), ("span", "http.status_code"), ("span", "http.big")}

    v = values(skua, key="service.name")
    assert v == {"values": [{"value": "task-api", "type": "string", "count": 8},
                            {"value": "billing", "type": "string", "count": 4}],
                 "truncated": False}
    assert values(skua, key="service.name", limit="1")["values"][0]["value"] == "task-api"
    assert [x["value"] for x in values(skua, key="service.name", prefix="bi")["values"]] == ["billing"]
    assert values(skua, key="http.status_code", service="billing")["values"] == [
        {"value": "500", "type": "int", "count": 1}]
    assert values(skua, key="retried")["values"][0]["type"] == "bool"
    assert values(skua, key="tags.list")["values"] == []
    assert values(skua, key="http.method", level="resource")["values"] == []


def test_tempo_shaped_tag_endpoints(skua):
    export_all(skua, ("task-api", "billing"))
    names = get(skua, "/api/search/tags").json()["tagNames"]
    assert "http.method" in names and "service.name" in names and names == sorted(set(names))

    scopes = {s["name"]: s["tags"] for s in get(skua, "/api/v2/search/tags").json()["scopes"]}
    assert "service.version" in scopes["resource"] and "http.method" in scopes["span"]
    assert "rule.count" in scopes["event"] and "link.kind" in scopes["link"]
    assert "name" in scopes["intrinsic"] and "status" in scopes["intrinsic"]
    only = get(skua, "/api/v2/search/tags", scope="resource").json()["scopes"]
    assert [s["name"] for s in only] == ["resource"]

    v1 = get(skua, "/api/search/tag/service.name/values").json()
    assert sorted(v1["tagValues"]) == ["billing", "task-api"]
    v2 = get(skua, "/api/v2/search/tag/resource.service.name/values").json()
    assert sorted(v2["tagValues"], key=lambda x: x["value"]) == [
        {"type": "string", "value": "billing"}, {"type": "string", "value": "task-api"}]
    assert get(skua, "/api/v2/search/tag/span.service.name/values").json() == {"tagValues": []}
    codes = get(skua, "/api/v2/search/tag/.http.status_code/values").json()["tagValues"]
    assert codes == [{"type": "int", "value": "500"}]
    # Grafana narrows values to a service with q.
    ops = get(skua, "/api/v2/search/tag/name/values",
              q='{resource.service.name="billing"}').json()["tagValues"]
    assert sorted(o["value"] for o in ops) == ["POST /tasks", "save_to_database", "upstream",
                                               "validate_task"]
    status = get(skua, "/api/v2/search/tag/status/values").json()["tagValues"]
    assert {"type": "keyword", "value": "error"} in status
    narrowed = get(skua, "/api/search/tags", q='{ .service.name = "billing" }').json()
    assert "http.method" in narrowed["tagNames"]
    assert get(skua, "/api/search/tags", q='{resource.service.name="nobody"}').json() == {
        "tagNames": []}


def test_answers_survive_a_restart(skua):
    export_all(skua)
    before = values(skua, key="http.method")
    assert before["values"] == [{"value": "POST", "type": "string", "count": 1}]
    skua.stop()
    skua.start()
    assert values(skua, key="http.method") == before
    assert keys(skua, service="task-api")[("span", "db.system")] == 1


def test_bad_parameters_are_refused_naming_them(skua):
    r = get(skua, "/api/v3/attribute-values")
    assert r.status_code == 400 and "key" in r.json()["error"]["message"]
    r = get(skua, "/api/v3/attribute-keys", level="process")
    assert r.status_code == 400 and "level" in r.json()["error"]["message"]
    r = get(skua, "/api/v3/attribute-keys", limit="many")
    assert r.status_code == 400 and "limit" in r.json()["error"]["message"]
    host, port = skua.url("query-http").split("//")[1].rstrip("/").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/api/v2/search/tag/%zz/values")  # not a valid escape, sent as it is
    resp = conn.getresponse()
    assert resp.status == 400 and b"tagName" in resp.read()
    conn.close()
    r = get(skua, "/api/v2/search/tags", scope="process")
    assert r.status_code == 400 and "scope" in r.text
    r = requests.post(skua.url("query-http", "/api/v3/attribute-keys"), timeout=10)
    assert r.status_code == 405
