"""Capacity of the load generator, measured side by side in one run.

Against nginx-mcp (a server far faster than any Python client), for DURATION seconds
each, interleaved ROUNDS times so that machine drift hits every contender alike:
  - wrk -t1 -c64 with the 2026-07-28 tools/call script (the reference ceiling),
  - one `mcpperf client concurrent --concurrency 64` process,
  - the same with `--processes 2`.
Prints each figure, the medians, and the ratios; exits 1 when the one-process
generator reaches less than half of wrk, saw errors, or failed to call itself
client_bound.

    python benchmarks/engine_capacity.py [--duration 5] [--rounds 2]
Needs nginx with the njs module and wrk; the bench directory is
${MCPPERF_BENCH_DIR:-../shared/bench} relative to the repository root.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _client import REPO, client_concurrent

from pytest_mcpperf.target import SpawnedServer

BENCH = Path(os.environ.get("MCPPERF_BENCH_DIR", REPO.parent / "shared" / "bench"))


def wrk_rps(url: str, duration: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", "-c64", f"-d{duration}s", "-s", str(BENCH / "modern_call.lua"), url],
        check=True,
        capture_output=True,
        text=True,
        timeout=duration + 30,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")
    return float(match.group(1))


def mcpperf_run(url: str, duration: int, processes: int) -> dict[str, object]:
    args = ["--server-url", url, "--concurrency", "64", "--processes", str(processes)]
    return client_concurrent(args, duration)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    opts = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            print(
                f"{tool} is not installed: apt-get install -y wrk nginx-light libnginx-mod-http-js",
                file=sys.stderr,
            )
            return 2
    with SpawnedServer(
        [str(BENCH / "nginx-mcp" / "run.sh"), "{port}"], startup_timeout_s=10.0
    ) as nginx:
        return measure(nginx.url, opts.duration, opts.rounds)


def measure(url: str, duration: int, rounds: int) -> int:
    figures: dict[str, list[float]] = {"wrk": [], "p1": [], "p2": []}
    verdicts, errors = [], 0
    for r in range(rounds):
        figures["wrk"].append(wrk_rps(url, duration))
        for n in (1, 2):
            rep = mcpperf_run(url, duration, n)
            figures[f"p{n}"].append(float(rep["throughput_rps"]))  # type: ignore[arg-type]
            errors += int(rep["requests"]["failed"])  # type: ignore[index]
            acc: dict[str, object] = rep["accuracy"]  # type: ignore[assignment]
            if n == 1:
                verdicts.append(acc["verdict"])
            print(
                f"  {n} process(es): {acc['verdict']}, client CPU "
                f"{acc['client_cpu_percent_per_process']}, host CPU "
                f"{acc['host_cpu_busy_percent']}%: {acc['reason']}"
            )
        print(
            f"round {r + 1}: wrk {figures['wrk'][-1]:.0f} rps, mcpperf 1 process "
            f"{figures['p1'][-1]:.0f} rps, 2 processes {figures['p2'][-1]:.0f} rps"
        )
        time.sleep(0.5)
    med = {k: statistics.median(v) for k, v in figures.items()}
    print(
        f"median: wrk {med['wrk']:.0f}, mcpperf p1 {med['p1']:.0f} "
        f"({med['p1'] / med['wrk']:.2f}x wrk), p2 {med['p2']:.0f} "
        f"({med['p2'] / med['p1']:.2f}x p1); errors {errors}; p1 verdicts {verdicts}"
    )
    ok = med["p1"] >= 0.5 * med["wrk"] and errors == 0 and set(verdicts) == {"client_bound"}
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
