#!/usr/bin/env python3
"""Skua and Jaeger v2 (all-in-one, Badger on local disk) side by side on the same machine, the
same load and the same queries, one system at a time, everything on 127.0.0.1.

Phases per system:
  1. ingest  skua-loadgen flat out over OTLP/gRPC for --duration seconds (reference workload,
             every acknowledged trace recorded): acknowledged spans/s, CPU-seconds per million
             spans (/proc/<pid>/stat), peak RSS (VmHWM)
  2. load    fresh storage with exactly --stored spans, the same count in both systems
  3. queries the Jaeger v1 HTTP mix (bench/query.py's kinds), p50/p99 per kind
  4. check   the same 100,000 spans (fixed seed and time) loaded into both; a sample of
             searches whose complete answer fits in the limit must return the same trace IDs
  5. disk    stop (SIGTERM), bytes of the data directory per stored span (and, for Skua, after
             `skua --compact`)

  bench/compare.py                 full run (builds Jaeger v1.76.0 once: scripts/jaeger.sh)
  bench/compare.py --quick         Skua only, small load: a smoke test of the harness
Writes a markdown table to stdout (and --json FILE for the raw figures).
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, unquote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import cpu_seconds, peak_rss_bytes  # noqa: E402
from query import percentile, query_mix  # noqa: E402

SERVICES = ["frontend", "checkout", "cart", "payment", "shipping", "email", "currency", "ad",
            "recommendation", "quote"]
JAEGER_CONFIG = """
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:{health}
  jaeger_query:
    storage:
      traces: badger_store
    http:
      endpoint: 127.0.0.1:{query}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
  jaeger_storage:
    backends:
      badger_store:
        badger:
          directories:
            keys: {data}/keys
            values: {data}/values
          ephemeral: false
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
        max_recv_msg_size_mib: 64
      http:
        endpoint: 127.0.0.1:{http}
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: badger_store
"""


def free_ports(n):
    import socket
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class System:
    """A system under test: started on fresh storage, stopped by PID."""

    def __init__(self, name, workdir):
        self.name, self.workdir = name, Path(workdir)
        self.data = self.workdir / f"{name}-data"
        self.proc = None
        self.lifetime_cpu = None

    def wait_ready(self, url_path, port, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", url_path)
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.name} not ready:\n{self.log_path.read_text()[-3000:]}")

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 120
        while time.time() < deadline:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid == self.proc.pid:
                self.lifetime_cpu = usage.ru_utime + usage.ru_stime
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                break
            time.sleep(0.1)
        else:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def compact(self, binary):
        """Full offline compaction, where the system has one. False if it has none."""
        return False

    def disk_bytes(self):
        return sum(f.stat().st_size for f in self.data.rglob("*") if f.is_file())


class Skua(System):
    def start(self, binary):
        grpc, http_, query, query_grpc, admin = free_ports(5)
        self.grpc, self.query_port = f"127.0.0.1:{grpc}", query
        self.log_path = self.workdir / "skua.log"
        self.proc = subprocess.Popen(
            [binary, f"--storage.path={self.data}", f"--collector.otlp.grpc.endpoint=127.0.0.1:{grpc}",
             f"--collector.otlp.http.endpoint=127.0.0.1:{http_}",
             f"--query.http.endpoint=127.0.0.1:{query}",
             f"--query.grpc.endpoint=127.0.0.1:{query_grpc}", f"--admin.endpoint=127.0.0.1:{admin}"],
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        self.wait_ready("/readyz", admin)

    def compact(self, binary):
        out = subprocess.run([binary, f"--storage.path={self.data}", "--compact"],
                             capture_output=True, text=True, timeout=1800)
        if out.returncode != 0:
            raise SystemExit(f"skua --compact failed: {out.stdout}{out.stderr}")
        return True


class Jaeger(System):
    def start(self, binary):
        grpc, http_, query, query_grpc, health = free_ports(5)
        self.grpc, self.query_port = f"127.0.0.1:{grpc}", query
        self.data.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "jaeger.yaml"
        config.write_text(JAEGER_CONFIG.format(grpc=grpc, http=http_, query=query,
                                               query_grpc=query_grpc, health=health, data=self.data))
        self.log_path = self.workdir / "jaeger.log"
        # Jaeger would export its own traces to localhost:4317; nothing of ours should receive them.
        env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}
        self.proc = subprocess.Popen([binary, "--config", str(config)], env=env,
                                     stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        self.wait_ready("/api/services", query)


def loadgen(args, system, seed, duration, spans=0, acked=None, concurrency=None, time_base=0,
            fresh=False):
    cmd = [args.loadgen, f"--target={system.grpc}", f"--duration={duration}",
           f"--concurrency={concurrency or args.concurrency}", f"--seed={seed}"]
    if fresh:
        cmd.append("--fresh")  # every request built anew: no repeated content for compression
    if spans:
        cmd.append(f"--spans={spans}")
    if acked:
        cmd.append(f"--acked-out={acked}")
    if time_base:
        cmd.append(f"--time-base={time_base}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 600)
    if out.returncode != 0:
        raise SystemExit(f"loadgen failed (exit {out.returncode}): {out.stderr} {out.stdout}")
    return json.loads(out.stdout)


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path):
        t = time.perf_counter()
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        body = r.read()
        dt = (time.perf_counter() - t) * 1000
        if r.status != 200:
            raise SystemExit(f"{path}: {r.status} {body[:300]}")
        return dt, json.loads(body)


def measure(client, trace_ids, n, rng):
    out = {}
    for name, make in query_mix(rng, SERVICES, trace_ids).items():
        lat = [client.get(make())[0] for _ in range(n)]
        out[name] = (percentile(lat, 50), percentile(lat, 99))
    return out


# The cross-check dataset: the same spans in both systems (one lane, fixed seed, every batch
# retried until acknowledged), timed around this instant, far from the load of the other phases.
CHECK_BASE_NS = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z
CHECK_WINDOW = f"start={CHECK_BASE_NS // 1000 - 3_600_000_000}&end={CHECK_BASE_NS // 1000 + 3_600_000_000}"


def cross_check_queries(client, rng, n):
    """Searches of the cross-check dataset built from spans it holds (so they match something),
    narrow enough that the complete answer fits in the limit: Jaeger's unordered, approximate
    limit cannot make the answers differ."""
    samples = []
    for svc in SERVICES:
        for trace in client.get(f"/api/traces?service={svc}&limit=30&{CHECK_WINDOW}")[1]["data"]:
            for span in trace["spans"]:
                if trace["processes"][span["processID"]]["serviceName"] != svc:
                    continue
                tags = [t for t in span["tags"] if t["key"].startswith("attr.key")]
                if tags:
                    samples.append((svc, span, rng.choice(tags)))
    qs = []
    for i in range(min(n, len(samples))):
        svc, span, tag = samples[rng.randrange(len(samples))]
        q = f"/api/traces?service={svc}&tag={tag['key']}:{tag['value']}"
        if i % 3 == 1:
            q += f"&minDuration={max(1, span['duration'] // 2)}us"
        elif i % 3 == 2:
            q += f"&operation={quote(span['operationName'])}"
        qs.append(q + f"&limit=1000&{CHECK_WINDOW}")
    return qs


def span_matches(trace, span, query):
    """Jaeger's documented semantics: this one span satisfies every condition of the query."""
    params = dict(p.split("=", 1) for p in query.split("?", 1)[1].split("&"))
    proc = trace["processes"][span["processID"]]
    if proc["serviceName"] != params["service"]:
        return False
    if "operation" in params and span["operationName"] != unquote(params["operation"]):
        return False
    if "minDuration" in params and span["duration"] < int(params["minDuration"][:-2]):
        return False
    key, value = params["tag"].split(":", 1)
    fields = span["tags"] + proc["tags"] + [f for log in span["logs"] for f in log["fields"]]
    as_str = lambda v: str(v).lower() if isinstance(v, bool) else str(v)  # noqa: E731
    return any(t["key"] == key and as_str(t["value"]) == value for t in fields)


def explain(query, only_here, traces):
    """How many of `only_here` (traces one system returned and the other did not) have no single
    span matching the query: matches across spans, which Jaeger's semantics exclude."""
    return sum(1 for t in only_here
               if not any(span_matches(traces[t], sp, query) for sp in traces[t]["spans"]))


def run_system(args, system, binary, rng_seed, workdir, queries=None):
    # Phase 1, ingest: flat out on fresh storage.
    system.start(binary)
    try:
        cpu0 = cpu_seconds(system.proc.pid)
        ingest = loadgen(args, system, 1, args.duration, acked=Path(workdir) / f"{system.name}.acked")
        cpu1 = cpu_seconds(system.proc.pid)
        rss = peak_rss_bytes(system.proc.pid)
    finally:
        system.stop()
    shutil.rmtree(system.data)
    # Phases 2-5 on fresh storage holding the same number of spans in both systems.
    system.start(binary)
    try:
        stored = loadgen(args, system, 2, 3600, spans=args.stored, fresh=True)["acked_spans"]
        time.sleep(args.settle)
        client = Client(system.query_port)
        ids = [t["traceID"] for t in client.get("/api/traces?service=frontend&limit=200")[1]["data"]]
        latencies = measure(client, ids, args.requests, random.Random(rng_seed))
        stored += loadgen(args, system, 3, 3600, spans=args.check_spans, concurrency=1,
                          time_base=CHECK_BASE_NS)["acked_spans"]
        if queries is None:
            queries = cross_check_queries(client, random.Random(rng_seed + 1), args.checks)
        answers = {}
        for q in queries:
            answers[q] = {t["traceID"].rjust(32, "0"): t for t in client.get(q)[1]["data"]}
        rss = max(rss, peak_rss_bytes(system.proc.pid))
    finally:
        system.stop()
    disk_after_stop = system.disk_bytes()
    compacted = system.compact(binary)
    return {
        "ingest_spans_per_s": ingest["spans_per_second"],
        "cpu_s_per_million": (cpu1 - cpu0) / ingest["acked_spans"] * 1e6,
        "peak_rss_mib": rss / 2**20,
        "stored_spans": stored,
        "disk_bytes_per_span": disk_after_stop / stored,
        "disk_bytes_per_span_compacted": system.disk_bytes() / stored if compacted else None,
        "latency_ms": latencies,
        "answers": answers,
        "queries": queries,
    }


def fmt_ratio(a, b, higher_is_better):
    if not a or not b:
        return "–"
    r = a / b if higher_is_better else b / a
    return f"{r:.1f}×"


def normalized(trace):
    """A v1 JSON trace's spans with their processes inlined, in span ID order: what two systems
    must agree on whatever order they list spans and number processes in."""
    spans = []
    for span in trace["spans"]:
        span = dict(span)
        span["process"] = trace["processes"][span.pop("processID")]
        spans.append(span)
    return sorted(spans, key=lambda s: (s["spanID"], s["startTime"], s["operationName"]))


def compare_contents(s_answers, j_answers):
    """(traces in both answers, identical ones, {field: count} of the differences)."""
    seen, same, fields = set(), 0, {}
    for q, sa in s_answers.items():
        for tid in set(sa) & set(j_answers.get(q, {})):
            if tid in seen:
                continue
            seen.add(tid)
            a, b = normalized(sa[tid]), normalized(j_answers[q][tid])
            if a == b:
                same += 1
                continue
            for x, y in zip(a, b):
                for k in set(x) | set(y):
                    if x.get(k) != y.get(k):
                        fields[k] = fields.get(k, 0) + 1
            if len(a) != len(b):
                fields["(span count)"] = fields.get("(span count)", 0) + 1
    return len(seen), same, fields


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="Skua only, small load, no peer")
    p.add_argument("--duration", type=float, default=60, help="ingest phase seconds")
    p.add_argument("--stored", type=int, default=1_000_000, help="spans stored before queries")
    p.add_argument("--requests", type=int, default=50, help="requests per query kind")
    p.add_argument("--checks", type=int, default=60, help="cross-check searches")
    p.add_argument("--check-spans", type=int, default=100_000, help="cross-check dataset size")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--settle", type=float, default=10)
    p.add_argument("--skua", default=str(REPO / "build" / "skua"))
    p.add_argument("--loadgen", default=str(REPO / "build" / "skua-loadgen"))
    p.add_argument("--json", help="write raw figures here")
    args = p.parse_args()
    if args.quick:
        args.duration, args.stored, args.requests, args.checks, args.settle = 3, 20_000, 5, 5, 0
        args.check_spans = 5_000

    with tempfile.TemporaryDirectory(prefix="skua-compare-") as workdir:
        results = {"skua": run_system(args, Skua("skua", workdir), args.skua, 7, workdir)}
        if not args.quick:
            jaeger_bin = subprocess.run([str(REPO / "scripts" / "jaeger.sh"), "--print-path"],
                                        capture_output=True, text=True, check=True).stdout.strip()
            results["jaeger"] = run_system(args, Jaeger("jaeger", workdir), jaeger_bin, 7, workdir,
                                           queries=results["skua"]["queries"])

    s, j = results["skua"], results.get("jaeger")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {k: {m: v for m, v in r.items() if m != "answers"} for k, r in results.items()}, indent=2))
    print(f"compare: ingest {args.duration:.0f} s flat out ({args.concurrency} lanes, 512-span "
          f"OTLP/gRPC batches); queries and disk on fresh storage holding {args.stored:,} spans "
          f"(+{args.check_spans:,} for the cross-check); {args.requests} requests per kind; "
          f"{os.cpu_count()} cores")
    print("| metric | Skua | Jaeger v2 + Badger | Skua advantage |")
    print("|---|---|---|---|")

    def row(label, key, fmt, higher_is_better):
        sv = s[key]
        jv = j[key] if j else None
        print(f"| {label} | {fmt.format(sv)} | {fmt.format(jv) if jv is not None else '–'} | "
              f"{fmt_ratio(sv, jv, higher_is_better) if jv is not None else '–'} |")

    row("acknowledged spans/s (flat out)", "ingest_spans_per_s", "{:,.0f}", True)
    row("CPU-seconds per million spans", "cpu_s_per_million", "{:.1f}", False)
    row("peak RSS (MiB)", "peak_rss_mib", "{:.0f}", False)
    row("disk bytes per span (after stop)", "disk_bytes_per_span", "{:.0f}", False)
    sc = s["disk_bytes_per_span_compacted"]
    print(f"| disk bytes per span (after full compaction: skua --compact; Badger has no such "
          f"command) | {sc:.0f} | – | – |")
    for kind in s["latency_ms"]:
        sp50, sp99 = s["latency_ms"][kind]
        jp = j["latency_ms"][kind] if j else None
        jtxt = f"{jp[0]:.2f} / {jp[1]:.2f}" if jp else "–"
        ratio = fmt_ratio(sp99, jp[1], False) if jp else "–"
        print(f"| {kind}: p50 / p99 (ms) | {sp50:.2f} / {sp99:.2f} | {jtxt} | {ratio} (p99) |")
    if j:
        same = cross_span = unexplained = 0
        for q, sa in s["answers"].items():
            ja = j["answers"].get(q, {})
            if set(sa) == set(ja):
                same += 1
                continue
            only_jaeger, only_skua = set(ja) - set(sa), set(sa) - set(ja)
            explained = explain(q, only_jaeger, ja) + explain(q, only_skua, sa)
            cross_span += explained
            unexplained += len(only_jaeger) + len(only_skua) - explained
            print(f"differs: {q}: skua {len(sa)}, jaeger {len(ja)}; traces matched only across "
                  f"spans: {explained} of {len(only_jaeger) + len(only_skua)}", file=sys.stderr)
        print(f"| cross-check: searches with the same trace IDs | {same} of {len(s['answers'])} "
              f"(all non-empty) | | |")
        print(f"| cross-check: extra traces in one answer that no single span matches "
              f"(Badger joins conditions across spans) | {cross_span} | | |")
        print(f"| cross-check: other differing traces | {unexplained} | | |")
        both, identical, fields = compare_contents(s["answers"], j["answers"])
        print(f"| cross-check: traces in both answers with the same spans (every field, tag, log, "
              f"process and warning of the v1 JSON) | {identical} of {both} | | |")
        if fields:
            print(f"content differences by field: {fields}", file=sys.stderr)


if __name__ == "__main__":
    main()
