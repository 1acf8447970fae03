#!/usr/bin/env python3
"""Disk benchmark: bytes on disk per stored span, per workload shape, after a full compaction.

For each shape, Skua starts on a fresh data directory, skua-loadgen sends --spans spans built
fresh for every request (--fresh: no span content repeats, so repeated batches cannot flatter
compression), Skua stops (SIGTERM), `skua --compact` compacts every partition to its last level,
and the data directory is measured. `skua --compact` also reports where the bytes go (trace
chunks, index blocks, filters, ...), which is printed as bytes per span. Loopback only.

  bench/disk.py [--spans 1000000] [--shapes random,tracegen] [--json]
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import REPO, start_skua, stop  # noqa: E402


def dir_bytes(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def measure(args, shape):
    with tempfile.TemporaryDirectory(prefix="skua-disk-") as tmp:
        data = Path(tmp) / "data"
        proc, addr = start_skua(args.binary, data, Path(tmp) / "skua.log", [])
        try:
            out = subprocess.run(
                [args.loadgen, f"--target={addr['otlp-grpc']}", "--duration=3600",
                 "--concurrency=2", f"--spans={args.spans}", f"--shape={shape}", "--fresh"],
                capture_output=True, text=True, timeout=3600)
            if out.returncode != 0:
                sys.exit(f"loadgen failed: {out.stderr}")
            load = json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            stop(proc)
        stored = load["acked_spans"]
        before = dir_bytes(data)
        out = subprocess.run([args.binary, f"--storage.path={data}", "--compact"],
                             capture_output=True, text=True, timeout=3600)
        if out.returncode != 0:
            sys.exit(f"skua --compact failed: {out.stdout}{out.stderr}")
        kinds = {m[0].strip(): int(m[1])
                 for m in re.findall(r"  (.+?): (\d+) bytes", out.stdout + out.stderr)}
        after = dir_bytes(data)
        return {
            "shape": shape,
            "spans": stored,
            "wire_bytes_per_span": load["wire_bytes_per_span"],
            "bytes_per_span_after_stop": before / stored,
            "bytes_per_span_compacted": after / stored,
            "kinds_bytes_per_span": {k: v / stored for k, v in kinds.items()},
        }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--spans", type=int, default=1_000_000)
    p.add_argument("--shapes", default="random,tracegen")
    p.add_argument("--binary", default=str(REPO / "build" / "skua"))
    p.add_argument("--loadgen", default=str(REPO / "build" / "skua-loadgen"))
    p.add_argument("--json", action="store_true", help="print one JSON object per shape")
    args = p.parse_args()
    for shape in args.shapes.split(","):
        r = measure(args, shape)
        if args.json:
            print(json.dumps(r))
            continue
        print(f"{shape}: {r['spans']:,} spans, {r['wire_bytes_per_span']:.0f} B/span on the wire (OTLP "
              f"protobuf), {r['bytes_per_span_after_stop']:.1f} B/span on disk after stop, "
              f"{r['bytes_per_span_compacted']:.1f} B/span after skua --compact")
        for kind, b in r["kinds_bytes_per_span"].items():
            print(f"  {kind}: {b:.1f} B/span")


if __name__ == "__main__":
    main()
