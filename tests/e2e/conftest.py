"""Fixtures that run the real `skua` binary on loopback with a temporary data directory."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(r"(admin|otlp-grpc|otlp-http|query-http|query-grpc) listening on (\S+)")


def skua_binary() -> str:
    path = os.environ.get("SKUA_BIN", str(REPO / "build" / "skua"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"skua binary not found at {path}; build first or set SKUA_BIN")
    return path


class Skua:
    """One skua process. Ports are picked by the OS (port 0) and read back from its log."""

    def __init__(self, data_dir: Path, log_dir: Path, flags=(), env=None, wrapper=()):
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.flags = list(flags)
        self.env = env or {}
        self.wrapper = list(wrapper)  # a command that execs Skua, e.g. prlimit
        self.proc = None
        self.addr = {}
        self.starts = 0

    def start(self, timeout=30):
        self.starts += 1
        self.log_path = self.log_dir / f"skua-{self.starts}.log"
        args = [
            *self.wrapper,
            skua_binary(),
            f"--storage.path={self.data_dir}",
            "--collector.otlp.grpc.endpoint=127.0.0.1:0",
            "--collector.otlp.http.endpoint=127.0.0.1:0",
            "--query.http.endpoint=127.0.0.1:0",
            "--query.grpc.endpoint=127.0.0.1:0",
            "--admin.endpoint=127.0.0.1:0",
            *self.flags,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKUA_")}
        env.update(self.env)
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log_file, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.log_path.read_text()
            if " ready (" in text:
                self.addr = dict(LISTEN_RE.findall(text))
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"skua exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"skua did not become ready:\n{self.log_path.read_text()}")

    def url(self, name, path=""):
        return f"http://{self.addr[name]}{path}"

    @property
    def grpc_target(self):
        return self.addr["otlp-grpc"]

    def log(self):
        return self.log_path.read_text()

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log_file.close()
            self.proc = None
        return code

    def kill(self):
        """SIGKILL: no flush, no cleanup."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        self.log_file.close()
        self.proc = None

    def get_trace(self, trace_id_hex, version="v1"):
        path = f"/api/traces/{trace_id_hex}" if version == "v1" else f"/api/v3/traces/{trace_id_hex}"
        return requests.get(self.url("query-http", path), timeout=10)

    def metrics(self):
        return requests.get(self.url("admin", "/metrics"), timeout=10).text


SERIES_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
SERIES_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metric_value(text, name, **labels):
    """The value of the series `name` with exactly these labels (in any order), or 0 if absent."""
    want = {k: str(v) for k, v in labels.items()}
    for line in text.splitlines():
        m = SERIES_RE.match(line)
        if m and m.group(1) == name and dict(SERIES_LABEL_RE.findall(m.group(2) or "")) == want:
            return float(m.group(3))
    return 0.0


def free_ports(n):
    """n TCP ports of 127.0.0.1 free right now (for programs that cannot take port 0)."""
    import socket
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def jaeger_binary():
    """Jaeger v2 (module v1.76.0), built once by scripts/jaeger.sh."""
    return subprocess.run([str(REPO / "scripts" / "jaeger.sh"), "--print-path"], check=True,
                          capture_output=True, text=True, timeout=1800).stdout.strip()


def start_jaeger(config_path, log_path, health_port, timeout=60):
    """Runs Jaeger with `config_path` until its health check (healthcheckv2 on `health_port`)
    says it is up; returns the process. The caller stops it."""
    log = open(log_path, "w")
    # Jaeger would export its own traces to localhost:4317.
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}
    proc = subprocess.Popen([jaeger_binary(), "--config", str(config_path)], stdout=log,
                            stderr=subprocess.STDOUT, env=env)
    log.close()
    deadline = time.time() + timeout
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{health_port}/status", timeout=2).status_code == 200:
                return proc
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"jaeger did not start:\n{Path(log_path).read_text()}")
        time.sleep(0.2)


@pytest.fixture
def skua_factory(tmp_path):
    """Makes Skua processes on fresh data directories; stops every one at the end."""
    made = []

    def make(flags=(), env=None, data_dir=None, wrapper=()):
        d = data_dir or tmp_path / f"data-{len(made)}"
        s = Skua(d, tmp_path, flags, env, wrapper)
        made.append(s)
        return s

    yield make
    for s in made:
        if s.proc is not None:
            s.stop()


@pytest.fixture
def skua(skua_factory):
    return skua_factory().start()
