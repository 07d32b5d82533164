"""The generator over stdio beside the generator over HTTP, measured in one run.

One `mcpperf client concurrent --concurrency 64` process, for DURATION seconds each,
interleaved ROUNDS times:
  - over stdio against `stdio_echo.py` (a minimal stdio server written for this),
  - over HTTP against nginx-mcp (far faster than any Python client).
Prints requests/s and the generator's CPU per request (its CPU share of the run window,
from the report's self-check) for each, the medians and their ratio. Exits 1 when a
run saw errors.

    python benchmarks/stdio_capacity.py [--duration 5] [--rounds 2]
The HTTP leg needs nginx with the njs module (the bench directory is
${MCPPERF_BENCH_DIR:-../shared/bench}); without it only the stdio leg runs.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

from _client import REPO, client_concurrent

from pytest_mcpperf.target import SpawnedServer

BENCH = Path(os.environ.get("MCPPERF_BENCH_DIR", REPO.parent / "shared" / "bench"))
ECHO = shlex.join([sys.executable, str(Path(__file__).with_name("stdio_echo.py"))])


def mcpperf_run(where: list[str], tool: list[str], duration: int) -> dict[str, Any]:
    return client_concurrent([*where, *tool, "--concurrency", "64"], duration)


def figures(report: dict[str, Any]) -> tuple[float, float, int]:
    """(requests/s, generator CPU microseconds per request, failed requests)."""
    acc = report["accuracy"]
    cpu = acc["client_cpu_percent_per_process"]
    cpu_percent = float(cpu[0] if isinstance(cpu, list) else cpu)
    ok = int(report["requests"]["ok"])
    cpu_us = cpu_percent / 100.0 * float(report["duration_s"]) * 1e6 / max(1, ok)
    return float(report["throughput_rps"]), cpu_us, int(report["requests"]["failed"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    opts = ap.parse_args()
    stdio = ["--transport", "stdio", "--server-cmd", ECHO]
    legs: dict[str, tuple[list[str], list[str]]] = {"stdio": (stdio, ["--tool", "echo"])}
    nginx: SpawnedServer | None = None
    if shutil.which("nginx") and (BENCH / "nginx-mcp" / "run.sh").exists():
        nginx = SpawnedServer([str(BENCH / "nginx-mcp" / "run.sh"), "{port}"], startup_timeout_s=10)
        nginx.start()
        legs["http"] = (["--server-url", nginx.url], [])
    else:
        print("nginx-mcp is not available: measuring the stdio leg only", file=sys.stderr)
    rps: dict[str, list[float]] = {k: [] for k in legs}
    cpu: dict[str, list[float]] = {k: [] for k in legs}
    errors = 0
    try:
        for r in range(opts.rounds):
            for name, (where, tool) in legs.items():
                rep = mcpperf_run(where, tool, opts.duration)
                rate, cpu_us, failed = figures(rep)
                rps[name].append(rate)
                cpu[name].append(cpu_us)
                errors += failed
                print(
                    f"round {r + 1} {name}: {rate:.0f} rps, generator {cpu_us:.1f} us CPU "
                    f"per request, {failed} failed, verdict {rep['accuracy']['verdict']}"
                )
    finally:
        if nginx is not None:
            nginx.stop()
    med = {k: (statistics.median(rps[k]), statistics.median(cpu[k])) for k in legs}
    line = ", ".join(f"{k} {r:.0f} rps at {c:.1f} us CPU/request" for k, (r, c) in med.items())
    if "http" in med:
        line += f"; stdio/http rps {med['stdio'][0] / med['http'][0]:.2f}x"
    print(f"median: {line}; errors {errors}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
