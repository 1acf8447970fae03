"""The user story end to end: a FastAPI service instrumented with `opentelemetry-instrument`
exports to Skua; the slow request is found by duration, by attribute and through api_v3, and
the trace shows where the time went."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import requests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(fn, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_task_api_slow_request_is_found(skua, tmp_path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "OTEL_SERVICE_NAME": "task-api",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{skua.grpc_target}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    log = open(tmp_path / "task-api.log", "w")
    app = subprocess.Popen(
        [str(instrument), sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=Path(__file__).parent / "task_api", env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"

        def up():
            try:
                return requests.get(f"{base}/openapi.json", timeout=1).status_code == 200
            except requests.ConnectionError:
                assert app.poll() is None, (tmp_path / "task-api.log").read_text()
                return False

        wait_for(up, what="the task API to start")
        r = requests.post(f"{base}/tasks", json={"title": "write the report"}, timeout=10)
        assert r.status_code == 200, r.text
        task_id = r.json()["id"]

        query = skua.url("query-http", "/api/traces?service=task-api&minDuration=100ms&limit=20")
        found = wait_for(lambda: requests.get(query, timeout=5).json()["data"], what="the trace")
        # The exporter may send the trace in several batches: wait until it is complete.
        trace_id = found[0]["traceID"]
        names = {"POST /tasks", "create_task", "validate_task", "save_to_database", "publish_event"}

        def complete():
            t = skua.get_trace(trace_id).json()["data"][0]
            have = {s["operationName"] for s in t["spans"]}
            return t if names <= have else None

        trace = wait_for(complete, what="all spans of the trace")
        spans = {s["operationName"]: s for s in trace["spans"] if s["operationName"] in names}
        assert trace["processes"][spans["create_task"]["processID"]]["serviceName"] == "task-api"
        create = spans["create_task"]
        children = [
            s for s in trace["spans"]
            if any(r["refType"] == "CHILD_OF" and r["spanID"] == create["spanID"] for r in s["references"])
        ]
        assert {c["operationName"] for c in children} == {"validate_task", "save_to_database", "publish_event"}
        slowest = max(children, key=lambda s: s["duration"])
        assert slowest["operationName"] == "save_to_database"
        assert slowest["duration"] >= 100_000  # µs
        tags = {t["key"]: t["value"] for t in create["tags"]}
        assert tags["task.id"] == task_id
        server = {t["key"]: t["value"] for t in spans["POST /tasks"]["tags"]}
        assert server["span.kind"] == "server"

        # The same trace by attribute, by tags JSON as the UI sends it.
        tags_q = quote(json.dumps({"event.type": "task.created"}))
        r = requests.get(skua.url("query-http", f"/api/traces?service=task-api&tags={tags_q}"), timeout=5)
        assert trace_id in [t["traceID"] for t in r.json()["data"]]
        r = requests.get(skua.url("query-http", f"/api/traces?service=task-api&tag=task.id:{task_id}"), timeout=5)
        assert trace_id in [t["traceID"] for t in r.json()["data"]]

        # And through api_v3, as the current Jaeger UI searches.
        now = datetime.now(timezone.utc)
        window = (f"query.startTimeMin={quote((now - timedelta(hours=1)).isoformat())}"
                  f"&query.startTimeMax={quote((now + timedelta(minutes=1)).isoformat())}")
        r = requests.get(skua.url("query-http", f"/api/v3/traces?query.serviceName=task-api&{window}"), timeout=5)
        assert r.status_code == 200, r.text
        v3_ids = {s["traceId"] for rs in r.json()["result"]["resourceSpans"]
                  for ss in rs["scopeSpans"] for s in ss["spans"]}
        assert trace_id.rjust(32, "0") in v3_ids
        r = requests.get(skua.url("query-http", f"/api/v3/trace-summaries?query.serviceName=task-api&query.durationMin=100ms&{window}"), timeout=5)
        summary = next(s for s in r.json()["summaries"] if s["traceId"] == trace_id.rjust(32, "0"))
        assert summary["rootServiceName"] == "task-api" and summary["rootOperationName"] == "POST /tasks"

        # The service and its operations, as the UI's dropdowns ask for them.
        assert "task-api" in requests.get(skua.url("query-http", "/api/services"), timeout=5).json()["data"]
        ops = requests.get(skua.url("query-http", "/api/v3/operations?service=task-api"), timeout=5).json()
        op_names = {o["name"] for o in ops["operations"]}
        assert names <= op_names
        assert {"name": "POST /tasks", "spanKind": "server"} in ops["operations"]
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(timeout=15)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
        log.close()
