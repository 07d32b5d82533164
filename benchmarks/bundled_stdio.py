"""The bundled server over stdio beside the bundled server over HTTP, in one run.

The same closed-loop load on each: `mcpperf client concurrent --concurrency 16`,
`fast_compute`, DURATION seconds, the legs interleaved ROUNDS times; the server is
spawned by `mcpperf` each time (`python -m mcpperf_server` on a free port, or
`python -m mcpperf_server --stdio` over its pipes). Prints requests/s, latency p50 and
p99, the server's CPU and the run's verdict for each leg, then the medians and the
stdio/HTTP ratios. Exits 1 when a run saw errors.

    python benchmarks/bundled_stdio.py [--duration 3] [--rounds 2] [--users 16]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
from typing import Any

from _client import client_concurrent

LEGS = {
    "http": [],
    "stdio": [
        "--transport",
        "stdio",
        "--server-cmd",
        shlex.join([sys.executable, "-m", "mcpperf_server", "--stdio"]),
    ],
}


def mcpperf_run(where: list[str], users: int, duration: int) -> dict[str, Any]:
    return client_concurrent(
        [
            *where,
            "--tool",
            "fast_compute",
            "--arguments",
            '{"input": 5}',
            "--concurrency",
            str(users),
        ],
        duration,
    )


def figures(report: dict[str, Any]) -> dict[str, float]:
    latency = report["latency_ms"]
    cpu = (report.get("server") or {}).get("cpu_percent") or {}
    return {
        "rps": float(report["throughput_rps"]),
        "p50": float(latency["p50"]),
        "p99": float(latency["p99"]),
        "server_cpu": float(cpu.get("mean", 0.0) if isinstance(cpu, dict) else cpu),
        "failed": float(report["requests"]["failed"]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--users", type=int, default=16)
    opts = ap.parse_args()
    seen: dict[str, list[dict[str, float]]] = {k: [] for k in LEGS}
    for r in range(opts.rounds):
        for name, where in LEGS.items():
            rep = mcpperf_run(where, opts.users, opts.duration)
            f = figures(rep)
            seen[name].append(f)
            print(
                f"round {r + 1} {name:5}: {f['rps']:.0f} rps, p50 {f['p50']:.2f} ms, "
                f"p99 {f['p99']:.2f} ms, server CPU {f['server_cpu']:.0f}%, "
                f"{f['failed']:.0f} failed, verdict {rep['accuracy']['verdict']}"
            )
    med = {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in seen.items()}
    for name, m in med.items():
        print(f"median {name:5}: {m['rps']:.0f} rps, p50 {m['p50']:.2f} ms, p99 {m['p99']:.2f} ms")
    s, h = med["stdio"], med["http"]
    print(
        f"stdio/http: rps {s['rps'] / h['rps']:.2f}x, p50 {s['p50'] / h['p50']:.2f}x, "
        f"p99 {s['p99'] / h['p99']:.2f}x"
    )
    errors = sum(f["failed"] for v in seen.values() for f in v)
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
