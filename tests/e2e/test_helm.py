"""The Helm chart, the plain manifests and the Dockerfile: lint, render, and check the objects
a cluster would get (ports, probes, volumes, security, and that every configuration key the
chart sets is one Skua reads)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, free_ports, jaeger_binary, skua_binary, start_jaeger

CHART = REPO / "helm" / "skua"
ALL_ON = REPO / "tests" / "helm" / "values-all-on.yaml"
TLS = REPO / "tests" / "helm" / "values-tls.yaml"
PORTS = {"otlp-grpc": 4317, "otlp-http": 4318, "query-http": 16686, "query-grpc": 16685, "admin": 8888}


def helm(*args):
    r = subprocess.run([str(REPO / "scripts" / "helm.sh"), *args], capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout


def render(*values):
    args = ["template", "skua", str(CHART), "--namespace", "observability"]
    for v in values:
        args += ["-f", str(v)]
    docs = [d for d in yaml.safe_load_all(helm(*args)) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


@pytest.mark.parametrize("values", [[], [ALL_ON], [TLS]], ids=["defaults", "all-on", "tls"])
def test_lint_strict(values):
    args = ["lint", "--strict", str(CHART)]
    for v in values:
        args += ["-f", str(v)]
    assert "0 chart(s) failed" in helm(*args)


def check_config_is_read_by_skua(objs, tmp_path):
    cfg = tmp_path / "skua.yaml"
    cfg.write_text(objs[("ConfigMap", "skua")]["data"]["skua.yaml"])
    r = subprocess.run([skua_binary(), "--config", str(cfg), "--validate"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, f"skua refuses the chart's configuration: {r.stderr}"
    return dict(line.split("=", 1) for line in r.stdout.splitlines())


def test_default_render(tmp_path):
    objs = render()
    assert set(objs) == {("ConfigMap", "skua"), ("StatefulSet", "skua"), ("Service", "skua"),
                         ("Service", "skua-headless"), ("ConfigMap", "skua-ui"),
                         ("Deployment", "skua-ui"), ("Service", "skua-ui")}
    config = check_config_is_read_by_skua(objs, tmp_path)
    assert config["storage.path"] == "/data"
    assert config["storage.retention"] == "72h"
    assert config["collector.otlp.grpc.endpoint"] == "0.0.0.0:4317"
    assert config["query.http.endpoint"] == "0.0.0.0:16686"
    assert config["query.grpc.endpoint"] == "0.0.0.0:16685"
    assert config["admin.endpoint"] == "0.0.0.0:8888"
    assert config["query.http.auth.htpasswd_file"] == ""  # no authentication by default
    assert config["collector.otlp.http.cors.allowed_origins"] == ""

    sts = objs[("StatefulSet", "skua")]
    assert sts["spec"]["serviceName"] == "skua-headless"
    pod = sts["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["args"] == ["--config", "/etc/skua/skua.yaml"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == PORTS
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert c["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    # Covers Skua's memory bound for the chart's settings and 2 shards (docs/operations.md).
    assert c["resources"]["limits"]["memory"] == "1280Mi"
    assert config["collector.max_inflight_bytes"] == "128MiB"
    assert config["query.max_response_bytes"] == "16MiB"
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["data"]["mountPath"] == "/data"
    assert mounts["config"]["mountPath"] == "/etc/skua" and mounts["config"]["readOnly"]
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert "storageClassName" not in claim["spec"]
    assert "checksum/config" in sts["spec"]["template"]["metadata"]["annotations"]

    svc = objs[("Service", "skua")]
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == PORTS
    assert all(p["targetPort"] == p["name"] for p in svc["spec"]["ports"])
    headless = objs[("Service", "skua-headless")]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"] == svc["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]


def test_all_options_render(tmp_path):
    objs = render(ALL_ON)
    config = check_config_is_read_by_skua(objs, tmp_path)
    assert config["storage.shards"] == "4"
    assert config["storage.fsync"] == "true"
    assert config["storage.block_cache_size"] == "256MiB"
    assert config["storage.memtable_size"] == "64MiB"
    assert config["storage.retention"] == "168h"
    assert config["storage.retention_overrides"] == "checkout=720h,healthcheck-svc=1h"
    assert config["storage.max_disk_bytes"] == "90GiB"
    assert config["collector.queue.max_bytes"] == "128MiB"
    assert config["collector.retry_after"] == "2s"
    assert config["log.level"] == "warn"  # extraConfig wins over config
    sts = objs[("StatefulSet", "skua")]
    pod = sts["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.example/skua:0.1.0-test"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["nodeSelector"] == {"disktype": "ssd"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert "podAntiAffinity" in pod["affinity"]
    claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["storageClassName"] == "fast-ssd"
    assert claim["resources"]["requests"]["storage"] == "100Gi"
    assert objs[("Service", "skua")]["spec"]["type"] == "LoadBalancer"

    sm = objs[("ServiceMonitor", "skua")]
    assert sm["spec"]["endpoints"] == [{
        "port": "admin", "path": "/metrics", "interval": "15s",
        "authorization": {"type": "Bearer",
                          "credentials": {"name": "skua-metrics-token", "key": "token"}}}]
    # Credentials: Secrets mounted read-only where the configuration looks for them; probes
    # (/healthz, /readyz) need none.
    assert config["collector.otlp.grpc.auth.bearer_tokens_file"] == "/etc/skua-auth/ingest/tokens"
    assert config["collector.otlp.http.auth.bearer_tokens_file"] == "/etc/skua-auth/ingest/tokens"
    assert config["query.http.auth.htpasswd_file"] == "/etc/skua-auth/query/htpasswd"
    assert config["query.grpc.auth.bearer_tokens_file"] == "/etc/skua-auth/query/tokens"
    assert config["admin.auth.bearer_tokens_file"] == "/etc/skua-auth/metrics/token"
    assert config["collector.otlp.http.cors.allowed_origins"] == "https://app.example.com"
    assert config["query.http.cors.allowed_origins"] == "https://*.grafana.example.com"
    assert config["tenancy.enabled"] == "true"
    assert config["tenancy.header"] == "X-Scope-OrgID"
    assert config["tenancy.tenants"] == "acme,globex"
    assert config["tenancy.max_spans_per_second"] == "20000"
    assert config["tenancy.rate_overrides"] == "acme=50000"
    assert config["tenancy.retention_overrides"] == "globex=24h"
    c = pod["containers"][0]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for role, secret in [("ingest", "skua-ingest-tokens"), ("query", "skua-query-users"),
                         ("metrics", "skua-metrics-token")]:
        assert mounts[f"auth-{role}"] == {"name": f"auth-{role}", "readOnly": True,
                                          "mountPath": f"/etc/skua-auth/{role}"}
        assert volumes[f"auth-{role}"]["secret"] == {"secretName": secret}
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert sm["metadata"]["labels"]["release"] == "prometheus"
    ing = objs[("Ingress", "skua")]
    assert ing["spec"]["ingressClassName"] == "nginx"
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "skua", "port": {"name": "query-http"}}
    assert ing["spec"]["tls"][0]["secretName"] == "traces-tls"
    collector = objs[("Service", "jaeger-collector")]
    assert {p["port"] for p in collector["spec"]["ports"]} == {4317, 4318}
    query = objs[("Service", "jaeger-query")]
    assert {p["port"]: p["targetPort"] for p in query["spec"]["ports"]} == {
        16686: "query-http", 16685: "query-grpc"}


def ui_config(objs):
    return yaml.safe_load(objs[("ConfigMap", "skua-ui")]["data"]["config.yaml"])


def check_ui_config_is_read_by_jaeger(objs, tmp_path):
    """`jaeger validate` of the Jaeger version the chart pins (v2.13.0 = module v1.76.0)."""
    cfg = tmp_path / "jaeger.yaml"
    cfg.write_text(objs[("ConfigMap", "skua-ui")]["data"]["config.yaml"])
    env = {**os.environ, "SKUA_QUERY_TOKEN": "t", "SKUA_INGEST_TOKEN": "t"}
    r = subprocess.run([jaeger_binary(), "validate", "--config", str(cfg)], capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 0, f"Jaeger refuses the chart's UI configuration: {r.stderr}"
    return ui_config(objs)


def test_ui_render(tmp_path):
    objs = render()
    config = check_ui_config_is_read_by_jaeger(objs, tmp_path)
    backend = config["extensions"]["jaeger_storage"]["backends"]["skua"]["grpc"]
    assert backend["endpoint"] == "skua:16685"  # Skua's Service, query gRPC port
    assert backend["writer"]["endpoint"] == "skua:4317"
    assert backend["tls"] == {"insecure": True}
    assert config["extensions"]["jaeger_query"]["storage"]["traces"] == "skua"
    assert "jaeger_query" in config["service"]["extensions"]
    assert config["service"]["pipelines"]["traces"]["receivers"] == ["nop"]  # no collector

    dep = objs[("Deployment", "skua-ui")]
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "jaegertracing/jaeger:2.13.0"
    assert c["args"] == ["--config", "/etc/jaeger/config.yaml"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {
        "http-ui": 16686, "grpc-query": 16685, "health": 13133, "metrics": 8888}
    assert c["readinessProbe"]["httpGet"] == {"path": "/status", "port": "health"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/status", "port": "health"}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["resources"]["limits"]["memory"]
    svc = objs[("Service", "skua-ui")]
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {"http-ui": 16686, "grpc-query": 16685}
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    # Skua's Services must not send traffic to the UI's pods, nor the UI's to Skua's.
    ui_labels = dep["spec"]["template"]["metadata"]["labels"]
    skua_labels = objs[("StatefulSet", "skua")]["spec"]["template"]["metadata"]["labels"]
    for name in ("skua", "skua-headless"):
        selector = objs[("Service", name)]["spec"]["selector"]
        assert not selector.items() <= ui_labels.items()
    assert not svc["spec"]["selector"].items() <= skua_labels.items()

    objs = render(ALL_ON)
    config = check_ui_config_is_read_by_jaeger(objs, tmp_path)
    backend = config["extensions"]["jaeger_storage"]["backends"]["skua"]["grpc"]
    assert backend["headers"] == {"authorization": "Bearer ${env:SKUA_QUERY_TOKEN}"}
    assert backend["writer"]["headers"] == {"authorization": "Bearer ${env:SKUA_INGEST_TOKEN}"}
    tenancy = {"Enabled": True, "Header": "X-Scope-OrgID", "Tenants": ["acme", "globex"]}
    assert backend["multi_tenancy"] == config["extensions"]["jaeger_query"]["multi_tenancy"] == tenancy
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["jaeger_storage_exporter"]
    dep = objs[("Deployment", "skua-ui")]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["SKUA_QUERY_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "skua-ui-tokens", "key": "query-token"}
    assert "skua-ui-tokens" not in objs[("ConfigMap", "skua-ui")]["data"]["config.yaml"]
    assert c["image"] == "registry.example/jaeger:2.13.0-mirror"
    assert {p["name"] for p in objs[("Service", "skua-ui")]["spec"]["ports"]} >= {"otlp-grpc", "otlp-http"}

    objs = render(TLS)
    config = check_ui_config_is_read_by_jaeger(objs, tmp_path)
    backend = config["extensions"]["jaeger_storage"]["backends"]["skua"]["grpc"]
    assert backend["tls"] == {"ca_file": "/etc/skua-ui/tls/query/ca.crt", "server_name_override": "skua"}
    pod = objs[("Deployment", "skua-ui")]["spec"]["template"]["spec"]
    volumes = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    assert volumes["tls-query"]["secretName"] == "skua-tls"


def test_ui_refuses_auth_without_credentials():
    r = subprocess.run([str(REPO / "scripts" / "helm.sh"), "template", "skua", str(CHART),
                        "--set", "auth.query.secretName=users"], capture_output=True, text=True)
    assert r.returncode != 0 and "ui.credentials" in r.stderr


def test_ui_config_runs_against_skua(skua, tmp_path):
    """The rendered UI configuration, with only its addresses moved to loopback, makes a real
    Jaeger serve Skua's data."""
    import requests
    from test_query_api import dataset
    r = requests.post(skua.url("otlp-http", "/v1/traces"), data=dataset().SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert r.status_code == 200
    text = render()[("ConfigMap", "skua-ui")]["data"]["config.yaml"]
    ports = dict(zip((16686, 16685, 13133, 8888), free_ports(4)))
    text = text.replace("skua:16685", skua.addr["query-grpc"]).replace("skua:4317", skua.addr["otlp-grpc"])
    for p, free in ports.items():
        text = text.replace(f"0.0.0.0:{p}", f"127.0.0.1:{free}")
    text = text.replace("host: 0.0.0.0", "host: 127.0.0.1").replace("port: 8888", f"port: {ports[8888]}")
    assert "0.0.0.0" not in text
    cfg = tmp_path / "ui.yaml"
    cfg.write_text(text)
    proc = start_jaeger(cfg, tmp_path / "jaeger.log", ports[13133])
    try:
        ui = f"http://127.0.0.1:{ports[16686]}"
        assert requests.get(f"{ui}/api/services", timeout=10).json()["data"] == ["driver", "frontend", "redis"]
        trace = requests.get(f"{ui}/api/traces/00000000000000a100000000000000a1", timeout=10).json()
        assert len(trace["data"][0]["spans"]) == 4
        assert requests.get(f"{ui}/", timeout=10).status_code == 200  # the UI's page
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_tls_render(tmp_path):
    objs = render(TLS)
    config = check_config_is_read_by_skua(objs, tmp_path)
    assert config["collector.otlp.grpc.tls.cert_file"] == "/etc/skua-tls/ingest/tls.crt"
    assert config["collector.otlp.http.tls.client_ca_file"] == "/etc/skua-tls/ingest/ca.crt"
    assert config["collector.otlp.http.tls.client_auth"] == "require"
    assert config["query.grpc.tls.key_file"] == "/etc/skua-tls/query/tls.key"
    assert config["admin.tls.cert_file"] == "/etc/skua-tls/admin/tls.crt"
    pod = objs[("StatefulSet", "skua")]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["scheme"] == "HTTPS"
    volumes = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert volumes == {"tls-ingest": "skua-ingest-tls", "tls-query": "skua-tls",
                       "tls-admin": "skua-tls"}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert all(mounts[f"tls-{g}"]["readOnly"] for g in ("ingest", "query", "admin"))
    cert = objs[("Certificate", "skua")]
    assert cert["spec"]["secretName"] == "skua-tls"
    assert "skua.observability.svc" in cert["spec"]["dnsNames"]
    (endpoint,) = objs[("ServiceMonitor", "skua")]["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"]["ca"]["secret"] == {"name": "skua-tls", "key": "ca.crt"}


def test_notes_tell_where_to_send_and_how_to_search(tmp_path):
    # `helm install --dry-run` needs a cluster; render NOTES.txt through `helm template` instead,
    # from a copy of the chart where a ConfigMap carries the rendered notes.
    chart = tmp_path / "skua"
    shutil.copytree(CHART, chart)
    (chart / "NOTES.src").write_text((chart / "templates" / "NOTES.txt").read_text())
    (chart / "templates" / "NOTES.txt").unlink()
    (chart / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rendered-notes\ndata:\n  notes: |\n"
        "{{ tpl (.Files.Get \"NOTES.src\") . | indent 4 }}\n")
    out = helm("template", "skua", str(chart), "--namespace", "observability")
    notes = next(d for d in yaml.safe_load_all(out) if d and d["metadata"]["name"] == "rendered-notes")
    notes = notes["data"]["notes"]
    assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://skua.observability.svc.cluster.local:4317" in notes
    assert "port-forward svc/skua 16686:16686" in notes
    assert "port-forward svc/skua-ui 16686:16686" in notes


def test_plain_manifests_are_the_rendered_chart():
    lines = (REPO / "deploy" / "skua.yaml").read_text().splitlines()
    assert lines[0].startswith("# Plain Kubernetes manifests")
    body = "\n".join(lines[3:]).strip()  # after the three-line header of render-deploy.sh
    rendered = helm("template", "skua", str(CHART), "--namespace", "observability").strip()
    assert body == rendered, "deploy/skua.yaml is stale: run scripts/render-deploy.sh"


def test_example_manifests():
    col = yaml.safe_load((REPO / "deploy" / "otel-collector.yaml").read_text())
    exporter = col["exporters"]["otlp/skua"]
    assert exporter["endpoint"] == "skua.observability.svc.cluster.local:4317"
    assert col["service"]["pipelines"]["traces"]["exporters"] == ["otlp/skua"]
    docs = list(yaml.safe_load_all((REPO / "deploy" / "task-api.yaml").read_text()))
    env = {e["name"]: e.get("value") for e in docs[0]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["OTEL_SERVICE_NAME"] == "task-api"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://skua.observability.svc.cluster.local:4317"
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    grafana = yaml.safe_load((REPO / "deploy" / "grafana-datasource.yaml").read_text())
    (ds,) = grafana["datasources"]
    assert ds["type"] == "jaeger" and ds["url"].endswith(":16686")
    assert ds["basicAuth"] and ds["jsonData"]["httpHeaderName1"] == "x-tenant"
    secure = yaml.safe_load((REPO / "deploy" / "otel-collector-secure.yaml").read_text())
    exporter = secure["exporters"]["otlp/skua"]
    assert exporter["tls"]["ca_file"] and "insecure" not in exporter["tls"]
    assert exporter["headers"]["authorization"].startswith("Bearer ${env:")
    assert exporter["headers"]["x-tenant"] == "${env:SKUA_TENANT}"
    assert secure["service"]["pipelines"]["traces"]["exporters"] == ["otlp/skua"]
    assert ds["basicAuth"] is True and "basicAuthPassword" in ds["secureJsonData"]


def test_dockerfile_installs_every_runtime_library():
    """The runtime stage's packages cover every shared library the skua binary links against."""
    dockerfile = (REPO / "Dockerfile").read_text()
    runtime = dockerfile.split("FROM debian:bookworm-slim", 1)[1]
    installed = set(re.findall(r"\b(lib[\w.+-]+|zlib1g|curl)\b", runtime))
    base = {"libc6", "libgcc-s1", "libstdc++6"}  # in debian:bookworm-slim itself
    ldd = subprocess.run(["ldd", skua_binary()], capture_output=True, text=True, check=True).stdout
    needed = set()
    for path in re.findall(r"=> (/\S+)", ldd):
        real = subprocess.run(["readlink", "-f", path], capture_output=True, text=True).stdout.strip()
        owner = subprocess.run(["dpkg", "-S", real], capture_output=True, text=True)
        if owner.returncode != 0:
            owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        assert owner.returncode == 0, f"no package owns {path}"
        needed.add(owner.stdout.split(":")[0])
    assert needed - base <= installed, f"missing in the runtime image: {sorted(needed - base - installed)}"
    for port in PORTS.values():
        assert str(port) in re.search(r"EXPOSE (.*)", dockerfile).group(1)
    assert "USER 10001" in dockerfile and 'VOLUME ["/data"]' in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert "scripts/setup.sh" in dockerfile.split("FROM debian:bookworm-slim")[0]
