#!/usr/bin/env python3
"""Ingest benchmark: runs Skua on loopback, drives it flat out with skua-loadgen (OTLP/gRPC,
pre-encoded 512-span batches of the reference workload) and reports sustained spans/s, Skua's
CPU-seconds per million spans (from /proc/<pid>/stat) and spans per second of Skua CPU.

Each run starts Skua on a fresh data directory and stops it (SIGTERM) afterwards; medians of
the runs are reported. Everything listens and sends on 127.0.0.1 only.

  bench/ingest.py [--runs 3] [--duration 10] [--concurrency 8] [--rate SPANS_PER_S] [--tls]

With --tls, OTLP/gRPC is served over TLS (a CA and a certificate for 127.0.0.1 are made with
openssl in the run's temporary directory) and each loadgen lane keeps one TLS connection.
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def peak_rss_bytes(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def scrape(admin_addr, metric):
    """One unlabelled metric's value from Skua's /metrics."""
    with urllib.request.urlopen(f"http://{admin_addr}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(metric + " "):
                return float(line.split()[1])
    return 0.0


def settle(admin_addr, limit_seconds):
    """Waits (at most `limit_seconds`) until RocksDB's flushes and compactions have caught up
    (skua_storage_background_jobs = 0 three seconds running); returns the seconds waited."""
    t0 = time.time()
    quiet = 0
    while quiet < 3 and time.time() - t0 < limit_seconds:
        quiet = quiet + 1 if scrape(admin_addr, "skua_storage_background_jobs") == 0 else 0
        time.sleep(1)
    return time.time() - t0


def start_skua(binary, data_dir, log_path, extra):
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [binary, f"--storage.path={data_dir}", "--collector.otlp.grpc.endpoint=127.0.0.1:0",
         "--collector.otlp.http.endpoint=127.0.0.1:0", "--query.http.endpoint=127.0.0.1:0",
         "--query.grpc.endpoint=127.0.0.1:0",
         "--admin.endpoint=127.0.0.1:0", *extra],
        stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        text = Path(log_path).read_text()
        if " ready (" in text:
            return proc, dict(re.findall(r"(\S+) listening on (\S+)", text))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    sys.exit(f"skua did not start:\n{Path(log_path).read_text()}")


def stop(proc):
    """SIGTERM, wait, and return the CPU-seconds of the whole process lifetime (rusage), which
    also counts the flush and compaction work that outlasts the load window."""
    proc.send_signal(signal.SIGTERM)
    deadline = time.time() + 60
    while time.time() < deadline:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    return None


def make_certificates(workdir):
    """A CA and a server certificate for 127.0.0.1, made with openssl; returns their paths."""
    d = Path(workdir)

    def openssl(*a):
        subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "1", "-subj", "/CN=bench-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=skua")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", "server.ext", "-out", "server.crt")
    return d / "ca.crt", d / "server.crt", d / "server.key"


def run_once(args, workdir, i):
    data = Path(workdir) / f"data-{i}"
    flags = list(args.skua_flag)
    loadgen_tls = []
    if args.tls:
        ca, cert, key = make_certificates(workdir)
        flags += [f"--collector.otlp.grpc.tls.cert_file={cert}",
                  f"--collector.otlp.grpc.tls.key_file={key}"]
        loadgen_tls = [f"--ca={ca}"]
    proc, addr = start_skua(args.skua, data, Path(workdir) / f"skua-{i}.log", flags)
    try:
        cpu0 = cpu_seconds(proc.pid)
        out = subprocess.run(
            [args.loadgen, f"--target={addr['otlp-grpc']}", f"--duration={args.duration}",
             f"--concurrency={args.concurrency}", f"--batch={args.batch}", f"--seed={i + 1}",
             f"--rate={args.rate}", *loadgen_tls],
            capture_output=True, text=True, timeout=args.duration + 120)
        if out.returncode != 0:
            sys.exit(f"loadgen failed: {out.stderr}")
        cpu1 = cpu_seconds(proc.pid)
        rss = peak_rss_bytes(proc.pid)
        rows = scrape(addr["admin"], "skua_storage_rows_written")
    finally:
        lifetime_cpu = stop(proc)
    r = json.loads(out.stdout)
    cpu = cpu1 - cpu0
    n = r["acked_spans"]
    r.update(skua_cpu_seconds=cpu, skua_lifetime_cpu_seconds=lifetime_cpu, peak_rss_bytes=rss,
             rows_per_span=rows / n if n else None,
             cpu_seconds_per_million=cpu / n * 1e6 if n else None,
             lifetime_cpu_seconds_per_million=lifetime_cpu / n * 1e6 if n and lifetime_cpu else None,
             spans_per_cpu_second=n / cpu if cpu else None)
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--rate", type=float, default=0, help="spans/s offered; 0 = flat out")
    p.add_argument("--skua", default=str(REPO / "build" / "skua"))
    p.add_argument("--loadgen", default=str(REPO / "build" / "skua-loadgen"))
    p.add_argument("--skua-flag", action="append", default=[], help="extra flag for skua")
    p.add_argument("--json", action="store_true", help="print raw results as JSON lines too")
    p.add_argument("--tls", action="store_true", help="OTLP/gRPC over TLS")
    args = p.parse_args()

    results = []
    with tempfile.TemporaryDirectory(prefix="skua-bench-") as workdir:
        for i in range(args.runs):
            r = run_once(args, workdir, i)
            results.append(r)
            if args.json:
                print(json.dumps(r))

    def med(k):
        vals = [r[k] for r in results if r[k] is not None]
        return statistics.median(vals) if vals else float("nan")

    rate = f"{args.rate:,.0f} spans/s offered" if args.rate else "flat out"
    print(f"ingest: {args.runs} runs x {args.duration:.0f} s, {rate}, {args.concurrency} lanes, "
          f"{args.batch}-span batches, {os.cpu_count()} cores")
    print("| metric | median | runs |")
    print("|---|---|---|")
    rows = [
        ("acknowledged spans/s", "spans_per_second", "{:,.0f}"),
        ("Skua CPU-seconds per million spans (load window)", "cpu_seconds_per_million", "{:.2f}"),
        ("Skua CPU-seconds per million spans (start to exit)", "lifetime_cpu_seconds_per_million", "{:.2f}"),
        ("spans per second of Skua CPU (per core)", "spans_per_cpu_second", "{:,.0f}"),
        ("Skua peak RSS (MiB)", "peak_rss_bytes", "{:.0f}"),
        ("RocksDB rows written per span", "rows_per_span", "{:.3f}"),
        ("wire bytes per span", "wire_bytes_per_span", "{:.0f}"),
        ("refused (queue full) requests", "refused", "{:.0f}"),
    ]
    for label, key, fmt in rows:
        scale = 1 / 2**20 if key == "peak_rss_bytes" else 1
        vals = ", ".join(fmt.format(r[key] * scale) for r in results if r[key] is not None)
        print(f"| {label} | {fmt.format(med(key) * scale)} | {vals} |")


if __name__ == "__main__":
    main()
