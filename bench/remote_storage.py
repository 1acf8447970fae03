#!/usr/bin/env python3
"""Remote storage benchmark: the same searches through Skua's api_v3 gRPC FindTraces and
through the remote storage API's FindTraces (what a Jaeger v2 using Skua as its storage calls),
one request at a time, alternating, on one Skua loaded with N spans of the reference workload;
and, with --jaeger, through a real Jaeger v2 (v1.76.0, scripts/jaeger.sh) in front of Skua
(Jaeger's api_v3 gRPC FindTraces → Skua's remote storage API). Reports p50/p99 per search and
API. Everything runs on 127.0.0.1; every process started is stopped at the end.

  bench/remote_storage.py [--spans 200000] [--requests 200] [--jaeger]
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import REPO, scrape, start_skua, stop  # noqa: E402
from compare import free_ports  # noqa: E402
from query import percentile  # noqa: E402

JAEGER_CONFIG = """
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces: {{receivers: [nop], processors: [batch], exporters: [nop]}}
  telemetry: {{metrics: {{level: none}}, logs: {{level: warn}}}}
extensions:
  healthcheckv2: {{use_v2: true, http: {{endpoint: "127.0.0.1:{health}"}}}}
  jaeger_query:
    storage: {{traces: skua}}
    http: {{endpoint: "127.0.0.1:{http}"}}
    grpc: {{endpoint: "127.0.0.1:{grpc}"}}
  jaeger_storage:
    backends:
      skua:
        grpc:
          endpoint: "{skua}"
          tls: {{insecure: true}}
receivers: {{nop: }}
processors: {{batch: }}
exporters: {{nop: }}
"""


def message_classes():
    out = subprocess.run(["protoc", f"-I{REPO / 'proto'}", "-I/usr/include", "--include_imports",
                          "--descriptor_set_out=/dev/stdout", "jaeger/api_v3/query_service.proto",
                          "jaeger/storage/v2/trace_storage.proto"], check=True,
                         capture_output=True).stdout
    pool = descriptor_pool.DescriptorPool()
    for f in descriptor_pb2.FileDescriptorSet.FromString(out).file:
        pool.Add(f)
    return lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


SEARCHES = {
    "service": lambda rng, services: dict(service=rng.choice(services)),
    "service + operation": lambda rng, services: dict(service="frontend", operation=f"GET /api/op{rng.randrange(8)}"),
    "service + operation + minDuration": lambda rng, services: dict(
        service="frontend", operation=f"GET /api/op{rng.randrange(8)}", min_ms=100),
    "service + one attribute": lambda rng, services: dict(
        service=rng.choice(services),
        attribute=(f"attr.key{rng.randrange(100):02d}", f"value-{rng.randrange(250) * 4 + 1:03d}")),
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spans", type=int, default=200_000)
    p.add_argument("--requests", type=int, default=200, help="requests per search and API")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--jaeger", action="store_true", help="also through a real Jaeger v2 in front")
    p.add_argument("--skua", default=str(REPO / "build" / "skua"))
    p.add_argument("--loadgen", default=str(REPO / "build" / "skua-loadgen"))
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    cls = message_classes()
    traces_data = cls("opentelemetry.proto.trace.v1.TracesData")

    with tempfile.TemporaryDirectory(prefix="skua-remote-bench-") as workdir:
        work = Path(workdir)
        proc, addr = start_skua(args.skua, work / "data", work / "skua.log", [])
        jaeger = None
        try:
            out = subprocess.run([args.loadgen, f"--target={addr['otlp-grpc']}", "--duration=3600",
                                  "--concurrency=8", f"--spans={args.spans}"],
                                 capture_output=True, text=True, timeout=7200, check=True)
            load = json.loads(out.stdout)
            quiet, t0 = 0, time.time()
            while quiet < 3 and time.time() - t0 < 600:
                quiet = quiet + 1 if scrape(addr["admin"], "skua_storage_background_jobs") == 0 else 0
                time.sleep(1)
            targets = {"api_v3 FindTraces (Skua)": (addr["query-grpc"], "v3"),
                       "remote storage FindTraces (Skua)": (addr["query-grpc"], "storage")}
            if args.jaeger:
                jaeger_bin = subprocess.run([str(REPO / "scripts" / "jaeger.sh"), "--print-path"],
                                            check=True, capture_output=True, text=True).stdout.strip()
                health, http_, grpc_ = free_ports(3)
                cfg = work / "jaeger.yaml"
                cfg.write_text(JAEGER_CONFIG.format(health=health, http=http_, grpc=grpc_,
                                                    skua=addr["query-grpc"]))
                jaeger = subprocess.Popen([jaeger_bin, "--config", str(cfg)],
                                          stdout=open(work / "jaeger.log", "w"), stderr=subprocess.STDOUT,
                                          env={**os.environ, "OTEL_TRACES_EXPORTER": "none"})
                deadline = time.time() + 60
                while subprocess.run(["curl", "-fs", f"http://127.0.0.1:{health}/status"],
                                     capture_output=True).returncode != 0:
                    if time.time() > deadline or jaeger.poll() is not None:
                        sys.exit(f"jaeger did not start:\n{(work / 'jaeger.log').read_text()}")
                    time.sleep(0.2)
                targets["api_v3 FindTraces (Jaeger v2 in front of Skua)"] = (f"127.0.0.1:{grpc_}", "v3")

            channels = {name: grpc.insecure_channel(t) for name, (t, _) in targets.items()}
            now = time.time_ns()

            def request(kind, search):
                if kind == "v3":
                    q = cls("jaeger.api_v3.TraceQueryParameters")(service_name=search["service"],
                                                                   search_depth=args.limit)
                    if "attribute" in search:
                        q.attributes[search["attribute"][0]] = search["attribute"][1]
                    req_cls, method = cls("jaeger.api_v3.FindTracesRequest"), "/jaeger.api_v3.QueryService/FindTraces"
                else:
                    q = cls("jaeger.storage.v2.TraceQueryParameters")(service_name=search["service"],
                                                                       search_depth=args.limit)
                    if "attribute" in search:
                        kv = q.attributes.add(key=search["attribute"][0])
                        kv.value.string_value = search["attribute"][1]
                    req_cls, method = cls("jaeger.storage.v2.FindTracesRequest"), "/jaeger.storage.v2.TraceReader/FindTraces"
                q.operation_name = search.get("operation", "")
                q.start_time_min.FromNanoseconds(now - 3600 * 10**9)
                q.start_time_max.FromNanoseconds(now + 60 * 10**9)
                if "min_ms" in search:
                    q.duration_min.FromMilliseconds(search["min_ms"])
                return req_cls(query=q), method

            services = None
            rng = random.Random(1)
            results = {}
            for search_name, make in SEARCHES.items():
                if services is None:
                    with grpc.insecure_channel(addr["query-grpc"]) as ch:
                        resp = ch.unary_unary("/jaeger.api_v3.QueryService/GetServices",
                                              request_serializer=lambda m: m.SerializeToString(),
                                              response_deserializer=cls("jaeger.api_v3.GetServicesResponse").FromString)(
                            cls("jaeger.api_v3.GetServicesRequest")(), timeout=10)
                    services = list(resp.services)
                lat = {name: [] for name in targets}
                found = {name: [] for name in targets}
                for _ in range(args.requests):
                    search = make(rng, services)
                    for name, (_, kind) in targets.items():  # alternating: same search, same moment
                        req, method = request(kind, search)
                        call = channels[name].unary_stream(method, request_serializer=lambda m: m.SerializeToString(),
                                                           response_deserializer=traces_data.FromString)
                        t = time.perf_counter()
                        messages = list(call(req, timeout=60))
                        lat[name].append((time.perf_counter() - t) * 1000)
                        found[name].append(len({s.trace_id for td in messages for rs in td.resource_spans
                                                for ss in rs.scope_spans for s in ss.spans}))
                results[search_name] = {
                    name: {"p50_ms": percentile(v, 50), "p99_ms": percentile(v, 99),
                           "mean_traces": sum(found[name]) / len(found[name])} for name, v in lat.items()}
            for ch in channels.values():
                ch.close()
        finally:
            if jaeger is not None:
                jaeger.terminate()
                jaeger.wait(timeout=30)
            stop(proc)
    if args.json:
        print(json.dumps({"load": load, "results": results}))
    print(f"remote storage: {load['acked_spans']:,} spans of the reference workload, "
          f"{args.requests} requests per search and API (alternating), limit {args.limit}")
    names = list(next(iter(results.values())))
    print("| search | " + " | ".join(f"{n} p50 / p99 (ms)" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for search_name, r in results.items():
        print(f"| {search_name} | " + " | ".join(
            f"{r[n]['p50_ms']:.2f} / {r[n]['p99_ms']:.2f} ({r[n]['mean_traces']:.0f} traces)" for n in names) + " |")


if __name__ == "__main__":
    main()
