"""Generator memory: peak RSS of a 25 s run against that of a 3 s run.

Runs `mcpperf client throughput` (open loop, 2000 requests/s, 10 connections) against
nginx-mcp for SHORT and LONG seconds and reads each process's peak RSS from
wait4()'s rusage. The generator's memory must not grow with the run's length
(fixed-size histograms, no per-request lists): pass when LONG - SHORT < 20 MB.

    python benchmarks/engine_memory.py [--short 3] [--long 25] [--rate 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from pytest_mcpperf.target import SpawnedServer

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("MCPPERF_BENCH_DIR", REPO.parent / "shared" / "bench"))
LIMIT_MB = 20.0


def peak_rss_mb(url: str, seconds: int, rate: int) -> tuple[float, dict[str, object]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest_mcpperf.cli",
            "client",
            "throughput",
            "--server-url",
            url,
            "--requests-per-second",
            str(rate),
            "--duration-seconds",
            str(seconds),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024.0, json.loads(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", type=int, default=3)
    ap.add_argument("--long", type=int, default=25)
    ap.add_argument("--rate", type=int, default=2000)
    opts = ap.parse_args()
    with SpawnedServer(
        [str(BENCH / "nginx-mcp" / "run.sh"), "{port}"], startup_timeout_s=10.0
    ) as nginx:
        short, rs = peak_rss_mb(nginx.url, opts.short, opts.rate)
        long, rl = peak_rss_mb(nginx.url, opts.long, opts.rate)
    for name, secs, mb, rep in (("short", opts.short, short, rs), ("long", opts.long, long, rl)):
        req = rep["requests"]
        print(
            f"{name}: {secs} s, {req['ok']} ok, {req['failed']} failed, "  # type: ignore[index]
            f"peak RSS {mb:.1f} MB"
        )
    print(f"growth {long - short:+.1f} MB (limit {LIMIT_MB:g} MB)")
    return 0 if long - short < LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
