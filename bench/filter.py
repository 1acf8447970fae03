#!/usr/bin/env python3
"""Search benchmark for the structured filter (Jaeger RFC 0005), trace-level duration and pages
(RFC 0014): loads Skua with N spans of the reference workload (skua-loadgen over OTLP/gRPC),
waits for background compactions, then replays each kind of api_v3 trace-summaries search
one at a time (20 traces per answer) and reports p50/p99 latency per kind, beside the same
question asked with the legacy parameters where it has one. Everything runs on 127.0.0.1; Skua
is stopped at the end.

  bench/filter.py [--spans 10000000] [--requests 100]
"""

import argparse
import http.client
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import REPO, settle, start_skua, stop  # noqa: E402
from query import percentile  # noqa: E402

WINDOW = {"query.start_time_min": "2000-01-01T00:00:00Z", "query.start_time_max": "2100-01-01T00:00:00Z"}


def eq_attr(key, value):
    return {"call": {"op": "eq", "args": [{"attr": {"key": key}}, {"scalar": {"value": value}}]}}


def service(name):
    return {"call": {"op": "eq", "args": [{"field": {"level": "resource", "name": "service"}},
                                          {"scalar": {"value": name}}]}}


def top(*args, op="and"):
    return {"op": op, "args": list(args)} if len(args) > 1 else args[0]["call"]


def kinds(rng, services):
    """Each kind: a function giving the next request's parameters (reference workload values:
    services, attr.keyNN = value-NNN on 11 of 100 keys per span)."""
    def pair():
        return f"attr.key{rng.randrange(100):02d}", f"value-{rng.randrange(250) * 4 + 1:03d}"

    def legacy_service_attr():
        k, v = pair()
        return {"query.serviceName": rng.choice(services), "query.attributes": json.dumps({k: v})}

    def filter_service_attr():
        k, v = pair()
        return {"query.filter": json.dumps(top(service(rng.choice(services)), eq_attr(k, v)))}

    def filter_attr():
        k, v = pair()
        return {"query.filter": json.dumps(top(eq_attr(k, v)))}

    def filter_not():
        k, v = pair()
        k2, v2 = pair()
        return {"query.filter": json.dumps(top(service(rng.choice(services)), eq_attr(k, v),
                                               {"call": {"op": "not", "args": [eq_attr(k2, v2)]}}))}

    def filter_or():
        (k, v), (k2, v2) = pair(), pair()
        return {"query.filter": json.dumps(top(service(rng.choice(services)), {"call": top(
            eq_attr(k, v), eq_attr(k2, v2), op="or")}))}

    def filter_regex():
        k = f"attr.key{rng.randrange(100):02d}"
        pattern = f"value-{rng.randrange(10)}[0-4]"
        return {"query.filter": json.dumps(top(service(rng.choice(services)), {"call": {
            "op": "regex", "args": [{"attr": {"key": k}}, {"scalar": {"value": pattern}}]}}))}

    def filter_nothing():
        k, _ = pair()
        return {"query.filter": json.dumps(top(eq_attr(k, "no-such-value")))}

    def trace_duration():
        return {"query.serviceName": rng.choice(services), "query.traceDurationMin": "500ms"}

    return {
        "legacy: service + one attribute": legacy_service_attr,
        "filter: service + one attribute": filter_service_attr,
        "filter: one attribute, any service": filter_attr,
        "filter: service + attribute + NOT attribute": filter_not,
        "filter: service + (attribute OR attribute)": filter_or,
        "filter: service + regex on an attribute": filter_regex,
        "filter: matches nothing (any service)": filter_nothing,
        "trace duration >= 500 ms, service": trace_duration,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spans", type=int, default=10_000_000)
    p.add_argument("--requests", type=int, default=100, help="requests per kind")
    p.add_argument("--skua", default=str(REPO / "build" / "skua"))
    p.add_argument("--loadgen", default=str(REPO / "build" / "skua-loadgen"))
    p.add_argument("--settle", type=float, default=900)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="skua-fbench-") as workdir:
        proc, addr = start_skua(args.skua, Path(workdir) / "data", Path(workdir) / "skua.log",
                                ["--query.timeout=30s"])
        try:
            t0 = time.time()
            out = subprocess.run(
                [args.loadgen, f"--target={addr['otlp-grpc']}", "--duration=7200",
                 "--concurrency=8", f"--spans={args.spans}"],
                capture_output=True, text=True, timeout=7200)
            load = json.loads(out.stdout)
            load_seconds = time.time() - t0
            settle(addr["admin"], args.settle)
            host, port = addr["query-http"].rsplit(":", 1)
            conn = http.client.HTTPConnection(host, int(port), timeout=120)

            def get(params):
                t = time.perf_counter()
                conn.request("GET", "/api/v3/trace-summaries?" + urlencode(params))
                r = conn.getresponse()
                body = r.read()
                dt = (time.perf_counter() - t) * 1000
                if r.status != 200:
                    raise SystemExit(f"{params}: {r.status} {body[:300]}")
                return dt, json.loads(body)

            conn.request("GET", "/api/v3/services")
            services = json.loads(conn.getresponse().read())["services"]
            rng = random.Random(1)
            results = {}
            for name, make in kinds(rng, services).items():
                lat, found = [], []
                for _ in range(args.requests):
                    dt, body = get({**WINDOW, "query.searchDepth": "20", **make()})
                    lat.append(dt)
                    found.append(len(body["summaries"]))
                results[name] = {"p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
                                 "mean_results": sum(found) / len(found)}
            # Span search: the 20 newest spans of a service with one attribute.
            lat = []
            for _ in range(args.requests):
                k, v = f"attr.key{rng.randrange(100):02d}", f"value-{rng.randrange(250) * 4 + 1:03d}"
                params = {**WINDOW, "query.pagination.pageSize": "20", "query.filter": json.dumps(
                    top(service(rng.choice(services)), eq_attr(k, v)))}
                t = time.perf_counter()
                conn.request("GET", "/api/v3/spans?" + urlencode(params))
                r = conn.getresponse()
                body = r.read()
                lat.append((time.perf_counter() - t) * 1000)
                if r.status != 200:
                    raise SystemExit(f"span search: {r.status} {body[:300]}")
            results["span search: service + one attribute"] = {
                "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99), "mean_results": 20}
            # Autocomplete (never reads spans): keys of a service, values of a key (top 20, and
            # with a prefix), and Tempo's v2 tag list.
            def timed(path):
                t = time.perf_counter()
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    raise SystemExit(f"{path}: {r.status} {body[:300]}")
                return (time.perf_counter() - t) * 1000, json.loads(body)

            for name, make in {
                "autocomplete: keys of a service": lambda: "/api/v3/attribute-keys?" + urlencode(
                    {"service": rng.choice(services), "limit": "20"}),
                "autocomplete: values of a key, top 20": lambda: "/api/v3/attribute-values?" + urlencode(
                    {"key": f"attr.key{rng.randrange(100):02d}", "limit": "20"}),
                "autocomplete: values of a key with a prefix": lambda: "/api/v3/attribute-values?" + urlencode(
                    {"key": f"attr.key{rng.randrange(100):02d}", "prefix": f"value-{rng.randrange(10)}",
                     "service": rng.choice(services), "limit": "20"}),
                "autocomplete: Tempo /api/v2/search/tags": lambda: "/api/v2/search/tags",
            }.items():
                lat, found = [], []
                for _ in range(args.requests):
                    dt, body = timed(make())
                    lat.append(dt)
                    found.append(len(body.get("keys", body.get("values", body.get("scopes", [])))))
                results[name] = {"p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
                                 "mean_results": sum(found) / len(found)}
            # Pages: the first page of a service search, then the next two, each timed.
            for which in range(3):
                lat = []
                for r in range(args.requests):
                    params = {**WINDOW, "query.serviceName": services[r % len(services)],
                              "query.pagination.pageSize": "20"}
                    token = None
                    for _ in range(which + 1):
                        if token:
                            params["query.pagination.pageToken"] = token
                        dt, body = get(params)
                        token = body.get("nextPageToken")
                    lat.append(dt)
                results[f"service search, page {which + 1}"] = {
                    "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99), "mean_results": 20}
        finally:
            stop(proc)
    if args.json:
        print(json.dumps({"load": load, "results": results}))
    print(f"filter searches: {load['acked_spans']:,} spans loaded in {load_seconds:.0f} s")
    print(f"{'kind':46s} {'p50 ms':>8s} {'p99 ms':>8s} {'traces':>7s}")
    for name, r in results.items():
        print(f"{name:46s} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['mean_results']:7.1f}")


if __name__ == "__main__":
    main()
