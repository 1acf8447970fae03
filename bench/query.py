#!/usr/bin/env python3
"""Query benchmark: loads Skua with N spans of the reference workload (skua-loadgen over
OTLP/gRPC), then replays a fixed mix of Jaeger v1 HTTP API calls one at a time and reports
p50/p99 latency per kind. Everything runs on 127.0.0.1; Skua is stopped at the end.

With --compacted, Skua is stopped after loading, `skua --compact` is run (index blocks merged
as for a partition no longer written, RocksDB compacted to its last level) and Skua is started
again before the queries: the state of data older than one partition width.

  bench/query.py [--spans 1000000] [--requests 200] [--compacted]
"""

import argparse
import http.client
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import REPO, settle, start_skua, stop  # noqa: E402


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def query_mix(rng, services, trace_ids):
    """The fixed mix of Jaeger v1 API calls, each kind a function giving the next request path
    (reference workload values: services, `GET /api/opN` roots, `attr.keyNN=value-NNN`)."""
    return {
        "trace by ID": lambda: f"/api/traces/{rng.choice(trace_ids)}",
        "search: service": lambda: f"/api/traces?service={rng.choice(services)}&limit=20",
        "search: service + operation": lambda: (
            f"/api/traces?service=frontend&operation={quote(f'GET /api/op{rng.randrange(8)}')}"
            "&limit=20"),
        "search: service + operation + minDuration": lambda: (
            f"/api/traces?service=frontend&operation={quote(f'GET /api/op{rng.randrange(8)}')}"
            "&minDuration=100ms&limit=20"),
        "search: service + one attribute": lambda: (
            f"/api/traces?service={rng.choice(services)}"
            f"&tag=attr.key{rng.randrange(100):02d}:value-{rng.randrange(250) * 4 + 1:03d}&limit=20"),
        "search: service + two attributes": lambda: (
            f"/api/traces?service={rng.choice(services)}"
            f"&tag=attr.key{rng.randrange(100):02d}:value-{rng.randrange(250) * 4 + 1:03d}"
            f"&tag=k8s.namespace.name:shop&limit=20"),
        "services": lambda: "/api/services",
        "operations": lambda: f"/api/services/{rng.choice(services)}/operations",
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spans", type=int, default=1_000_000)
    p.add_argument("--requests", type=int, default=200, help="requests per kind")
    p.add_argument("--skua", default=str(REPO / "build" / "skua"))
    p.add_argument("--loadgen", default=str(REPO / "build" / "skua-loadgen"))
    p.add_argument("--settle", type=float, default=600,
                   help="at most this many seconds to wait after loading for RocksDB's flushes "
                        "and compactions to catch up (skua_storage_background_jobs = 0)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--compacted", action="store_true",
                   help="query after a stop, skua --compact and a restart")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="skua-qbench-") as workdir:
        proc, addr = start_skua(args.skua, Path(workdir) / "data", Path(workdir) / "skua.log", [])
        try:
            t0 = time.time()
            out = subprocess.run(
                [args.loadgen, f"--target={addr['otlp-grpc']}", "--duration=3600",
                 "--concurrency=8", f"--spans={args.spans}"],
                capture_output=True, text=True, timeout=7200)
            load = json.loads(out.stdout)
            load_seconds = time.time() - t0
            if args.compacted:
                stop(proc)
                out = subprocess.run([args.skua, f"--storage.path={Path(workdir) / 'data'}",
                                      "--compact"], capture_output=True, text=True, timeout=7200)
                if out.returncode != 0:
                    sys.exit(f"skua --compact failed: {out.stdout}{out.stderr}")
                proc, addr = start_skua(args.skua, Path(workdir) / "data",
                                        Path(workdir) / "skua-compacted.log", [])
            # Let the flushes and compactions the bulk load left behind finish: a system holding
            # 10 M spans is not normally absorbing them at 100 K+ spans/s, and on 2 cores the
            # backlog would be measured rather than the queries.
            settle_seconds = settle(addr["admin"], args.settle)
            host, port = addr["query-http"].rsplit(":", 1)
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            rng = random.Random(1)

            def get(path):
                # Timed: request sent until the whole body is read (JSON decoding excluded).
                t = time.perf_counter()
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                dt = (time.perf_counter() - t) * 1000
                if r.status != 200:
                    raise SystemExit(f"{path}: {r.status} {body[:200]}")
                return dt, json.loads(body)

            services = get("/api/services")[1]["data"]
            ids = [t["traceID"] for t in get("/api/traces?service=frontend&limit=500")[1]["data"]]
            kinds = query_mix(rng, services, ids)
            results = {}
            for name, make in kinds.items():
                lat, found = [], []
                for _ in range(args.requests):
                    dt, body = get(make())
                    lat.append(dt)
                    if isinstance(body.get("data"), list):
                        found.append(len(body["data"]))
                results[name] = {"p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
                                 "mean_results": statistics.mean(found) if found else 0}
            live = 0
            for line in requests.get(f"http://{addr['admin']}/metrics", timeout=10).text.splitlines():
                if line.startswith("skua_storage_live_data_bytes "):
                    live = float(line.split()[1])
        finally:
            stop(proc)
        # Startup time with the data in place: after a clean stop, and after a SIGKILL under
        # load (write-ahead log and unsealed index entries to replay).
        startup = {}
        data = Path(workdir) / "data"
        t = time.time()
        proc, addr = start_skua(args.skua, data, Path(workdir) / "skua-2.log", [])
        startup["after clean stop"] = time.time() - t
        load2 = subprocess.Popen([args.loadgen, f"--target={addr['otlp-grpc']}", "--duration=5",
                                  "--concurrency=4"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        time.sleep(4)
        proc.kill()
        proc.wait()
        load2.wait()
        t = time.time()
        proc, addr = start_skua(args.skua, data, Path(workdir) / "skua-3.log", [])
        startup["after SIGKILL under load"] = time.time() - t
        stop(proc)
    if args.json:
        print(json.dumps({"load": load, "results": results, "startup_seconds": startup}))
    state = "after skua --compact" if args.compacted else "as loaded"
    print(f"query ({state}): {load['acked_spans']:,} spans stored in {load_seconds:.0f} s "
          f"({load['spans_per_second']:,.0f} spans/s), {settle_seconds:.0f} s for background "
          f"compactions to finish; live data {live / 2**20:,.0f} MiB; "
          f"{args.requests} sequential requests per kind")
    print("| query | p50 (ms) | p99 (ms) | traces returned (mean) |")
    print("|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['mean_results']:.1f} |")
    print()
    print("| start (to /readyz, data in place) | seconds |")
    print("|---|---|")
    for name, secs in startup.items():
        print(f"| {name} | {secs:.2f} |")


if __name__ == "__main__":
    main()
