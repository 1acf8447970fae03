"""Smoke test of the benchmark harness: the load generator and bench/ingest.py run end to end
(no timing is asserted; figures come from the benchmark itself, see docs/benchmarks.md)."""

import json
import os
import subprocess
import sys

from conftest import REPO


def test_ingest_benchmark_runs(tmp_path):
    loadgen = REPO / "build" / "skua-loadgen"
    assert os.access(loadgen, os.X_OK), "build the skua-loadgen target first"
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "ingest.py"), "--runs", "1", "--duration", "1",
         "--concurrency", "2", "--json", "--skua", os.environ.get("SKUA_BIN", str(REPO / "build" / "skua"))],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[0])
    assert result["acked_spans"] > 0 and result["errors"] == 0
    assert result["skua_lifetime_cpu_seconds"] > 0
    assert "| acknowledged spans/s |" in out.stdout


def test_query_benchmark_runs():
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "query.py"), "--spans", "20000", "--requests", "5",
         "--settle", "0", "--json", "--skua", os.environ.get("SKUA_BIN", str(REPO / "build" / "skua"))],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[0])
    assert result["load"]["acked_spans"] >= 20000
    assert result["results"]["trace by ID"]["mean_results"] == 1
    assert "| search: service + operation + minDuration |" in out.stdout


def test_side_by_side_benchmark_quick_mode():
    """bench/compare.py --quick: Skua alone through every phase of the comparison harness."""
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "compare.py"), "--quick",
         "--skua", os.environ.get("SKUA_BIN", str(REPO / "build" / "skua"))],
        capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "| acknowledged spans/s (flat out) |" in out.stdout
    assert "| disk bytes per span (after stop) |" in out.stdout
    assert "| trace by ID: p50 / p99 (ms) |" in out.stdout


def test_disk_benchmark_runs():
    """bench/disk.py: both workload shapes, fresh requests, skua --compact's report by row kind."""
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "disk.py"), "--spans", "20000", "--json",
         "--binary", os.environ.get("SKUA_BIN", str(REPO / "build" / "skua"))],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["shape"] for r in results] == ["random", "tracegen"]
    for r in results:
        assert r["spans"] >= 20000
        assert 0 < r["bytes_per_span_compacted"] < r["wire_bytes_per_span"]
        kinds = r["kinds_bytes_per_span"]
        assert kinds["trace chunks (T)"] > 0 and kinds["index blocks (B)"] > 0, kinds
