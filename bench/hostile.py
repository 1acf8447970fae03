#!/usr/bin/env python3
"""Memory under hostile load: runs each attack of the hostile-client suite against a fresh Skua
(default settings unless --skua-flag says otherwise), then all of them at once, and reports
Skua's peak RSS (VmHWM) against the bound of docs/operations.md ("Memory"), the answers the
attacks got, and how long /api/services took meanwhile. Loopback only; every loop is bounded.

  bench/hostile.py [--shards 2] [--traces 20000] [--skua-flag=--collector.max_inflight_bytes=…]
"""

import argparse
import gzip
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from ingest import peak_rss_bytes, start_skua, stop  # noqa: E402
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc  # noqa: E402
from test_ingest_errors import make_request, tid  # noqa: E402

MiB = 2**20
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def raw_export(addr, payload, compression=None, timeout=120):
    # No client-side limit: the client checks it before compressing, so a bomb would never leave.
    with grpc.insecure_channel(addr, options=[("grpc.max_send_message_length", -1)]) as ch:
        call = ch.unary_unary(EXPORT, request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
        try:
            call(payload, timeout=timeout, compression=compression)
            return "OK"
        except grpc.RpcError as e:
            return e.code().name


def json_bombs(addr):
    url = f"http://{addr['otlp-http']}/v1/traces"
    h = {"Content-Type": "application/json"}
    out = [requests.post(url, data=b"[" * 200_000, headers=h, timeout=60).status_code]
    value = '{"arrayValue":{"values":[' * 3999 + '{"intValue":"1"}' + "]}}" * 3999
    body = ('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"02",'
            '"attributes":[{"key":"deep","value":' + value + '}]}]}]}]}')
    out.append(requests.post(url, data=body, headers=h, timeout=60).status_code)
    out.append(requests.post(url, data=b"[" + b"1," * (8 * MiB - 2) + b"1]", headers=h,
                             timeout=60).status_code)
    return out


def concurrently(n, fn):
    """Runs fn() on n threads at once; returns their results."""
    results = []
    threads = [threading.Thread(target=lambda: results.append(fn())) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def gzip_bombs(addr):
    payload = b"\x0a" + b"\x00" * (1024 * MiB)  # gzip makes ~1 MiB of it on the wire
    return concurrently(3, lambda: raw_export(addr["otlp-grpc"], payload, grpc.Compression.Gzip))


def slow_bodies(addr, hold):
    """40 connections, each sending all of a 16 MiB body but its last byte; held `hold` s."""
    host, port = addr["otlp-http"].rsplit(":", 1)
    socks, answers = [], []
    for _ in range(40):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                  b"Content-Length: " + str(16 * MiB).encode() + b"\r\n\r\n")
        try:
            for _ in range(16):
                s.sendall(b"x" * (MiB if _ < 15 else MiB - 1))
            answers.append("held")
        except OSError:
            answers.append("refused")
        socks.append(s)
    time.sleep(hold)
    for s in socks:
        s.close()
    return answers


def large_exports(addr):
    big = make_request([tid(0xE000 + i) for i in range(64)], payload=(15 * MiB) // 64 - 200)
    wire = big.SerializeToString()
    return concurrently(24, lambda: raw_export(addr["otlp-grpc"], wire))


def heavy_searches(addr, service_latencies):
    results = []

    def search():
        r = requests.get(f"http://{addr['query-http']}/api/traces",
                         params={"service": "load", "start": "0", "limit": "1000000"}, timeout=120)
        results.append(r.status_code)

    threads = [threading.Thread(target=search) for _ in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        t0 = time.monotonic()
        requests.get(f"http://{addr['query-http']}/api/services", timeout=60)
        service_latencies.append(time.monotonic() - t0)
        time.sleep(0.05)
    for t in threads:
        t.join()
    return results


def guarded(attack):
    """The attack's answers, or the client-side error that ended it (e.g. Skua died)."""
    def run(addr, latencies):
        try:
            return attack(addr, latencies) or []
        except Exception as e:  # noqa: BLE001 - reported as the attack's outcome
            return [f"client error {type(e).__name__}"]
    return run


def load(addr, traces):
    """Stores `traces` traces of 5 spans (service "load") for the searches to find."""
    with grpc.insecure_channel(addr["otlp-grpc"]) as ch:
        stub = trace_service_pb2_grpc.TraceServiceStub(ch)
        for first in range(0, traces, 500):
            ids = [tid(0x10000 + i) for i in range(first, min(first + 500, traces))]
            stub.Export(make_request(ids, spans_per_trace=5, payload=200, service="load"),
                        timeout=60)


def bound(args):
    """docs/operations.md, "Memory", for the default settings and --shards."""
    return (96 + 256 + (128 + 32) + args.shards * (64 + 96 + 88) + 128 + (2 + 2) * 3 * 64 + 64) * MiB


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--traces", type=int, default=20000)
    p.add_argument("--skua", default=str(Path(__file__).resolve().parents[1] / "build" / "skua"))
    p.add_argument("--skua-flag", action="append", default=[])
    args = p.parse_args()

    attacks = {
        "OTLP/JSON nesting and value bombs": guarded(lambda a, lat: json_bombs(a)),
        "3 gRPC gzip bombs (1 GiB inflated each)": guarded(lambda a, lat: gzip_bombs(a)),
        "40 slow 16 MiB HTTP bodies": guarded(lambda a, lat: slow_bodies(a, 2)),
        "24 concurrent 15 MiB gRPC exports": guarded(lambda a, lat: large_exports(a)),
        "4 searches with limit=1000000": guarded(heavy_searches),
    }
    print(f"hostile: {args.shards} shards, {args.traces} traces stored first, bound "
          f"{bound(args) / MiB:.0f} MiB")
    print("| attack | peak RSS (MiB) | within bound | answers | /api/services meanwhile (median / max ms) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="skua-hostile-") as work:
        for i, (name, attack) in enumerate(list(attacks.items()) + [("all of them at once", None)]):
            proc, addr = start_skua(args.skua, Path(work) / f"data-{i}", Path(work) / f"skua-{i}.log",
                                    [f"--storage.shards={args.shards}", *args.skua_flag])
            try:
                load(addr, args.traces)
                latencies = []
                if attack is not None:
                    answers = attack(addr, latencies)
                else:
                    answers = []
                    threads = [threading.Thread(target=lambda f=f: answers.extend(f(addr, latencies)))
                               for f in attacks.values()]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                time.sleep(0.5)  # a process that is dying is seen dead
                alive = proc.poll() is None
                rss = peak_rss_bytes(proc.pid) if alive else 0
            finally:
                if proc.poll() is None:
                    stop(proc)
            counts = {}
            for a in answers:
                counts[str(a)] = counts.get(str(a), 0) + 1
            lat = (f"{statistics.median(latencies) * 1000:.0f} / {max(latencies) * 1000:.0f}"
                   if latencies else "")
            print(f"| {name} | {rss / MiB:.0f}{'' if alive else ' (DIED)'} | "
                  f"{'yes' if alive and rss < bound(args) else 'NO'} | "
                  f"{', '.join(f'{k} x{v}' for k, v in sorted(counts.items()))} | {lat} |")


if __name__ == "__main__":
    main()
