"""Open loop against closed loop: the generator's CPU per request, measured in one run.

Against nginx-mcp (a server far faster than any Python client), one generator process,
32 connections, DURATION seconds per step:
  1. closed loop (`mcpperf client concurrent --concurrency 32`): capacity (rps) and
     generator CPU per request,
  2. open loop (`mcpperf client throughput --requests-per-second R --concurrency 32`) at
     2,500 and 10,000 rps: CPU per request, verdict, dispatch lateness p99, and latency
     p50 minus service-time p50 (the part of latency the dispatcher adds),
  3. a ladder of open-loop rates (fractions of the closed-loop capacity), for the highest
     rate held with verdict `valid`.
CPU per request is the generator's own CPU (user + system, the report's
`client_cpu_percent`) over the achieved rate. Prints every step and the ratios of
issue 11: open CPU/request <= 2x closed at 2,500 and 10,000 rps; verdict valid at
10,000; highest valid rate >= 0.6x the closed-loop capacity. Exits 1 when one is missed.

    python benchmarks/open_loop_cost.py [--duration 4] [--ladder 0.2,0.3,0.4,0.5,0.6,0.8]
    # on a shared machine: flock /tmp/mcpperf-heavy.lock python benchmarks/open_loop_cost.py
Why open loop costs more per request at moderate rates: a closed loop at its limit
never sleeps, and each of its loop iterations serves many responses; an open loop at
2,500 requests/s sleeps and wakes about once per request (the timer's ticks, answers
arriving between them). On the 2-core VM this was written on, a sleep and wake-up cost
the process 50-150 us of CPU on its own (a 6 us piece of work followed by a 1 ms sleep
cost 63 us; a closed loop of 1 user cost 84 us/request against 21 us for 32 users).

Needs nginx with the njs module; the bench directory is
${MCPPERF_BENCH_DIR:-../shared/bench} relative to the repository root. Note the load
average beside the figures: on a busy host every ratio moves.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pytest_mcpperf.target import SpawnedServer

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("MCPPERF_BENCH_DIR", REPO.parent / "shared" / "bench"))
MCPPERF = [sys.executable, "-m", "pytest_mcpperf.cli", "--json"]
CONNECTIONS = 32


@dataclass
class Step:
    label: str
    rps: float
    cpu_percent: float
    verdict: str
    reason: str
    late_p99_us: int
    queue_wait_p99_us: int
    added_p50_ms: float  # latency p50 - service time p50

    @property
    def cpu_us(self) -> float:
        return self.cpu_percent / 100.0 / self.rps * 1e6 if self.rps else float("inf")

    def line(self, closed_us: float | None = None) -> str:
        ratio = f" ({self.cpu_us / closed_us:.2f}x closed)" if closed_us else ""
        return (
            f"{self.label:>14}: {self.rps:8.0f} rps, CPU {self.cpu_percent:5.1f}%, "
            f"{self.cpu_us:6.1f} us/request{ratio}, {self.verdict}, lateness p99 "
            f"{self.late_p99_us} us, queue wait p99 {self.queue_wait_p99_us} us, "
            f"latency-service p50 {self.added_p50_ms:.3f} ms"
        )


def run(url: str, duration: int, rate: float | None) -> Step:
    if rate is None:
        args = ["client", "concurrent", "--concurrency", str(CONNECTIONS)]
        label = "closed loop"
    else:
        args = ["client", "throughput", "--requests-per-second", f"{rate:g}"]
        args += ["--concurrency", str(CONNECTIONS)]
        label = f"open {rate:g}"
    out = subprocess.run(
        [*MCPPERF, *args, "--server-url", url, "--duration-seconds", str(duration)],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        cwd=REPO,
    ).stdout
    rep = json.loads(out)
    acc = rep["accuracy"]
    lat, svc = rep.get("latency_ms") or {}, rep.get("service_time_ms") or {}
    return Step(
        label,
        float(rep["throughput_rps"]),
        float(acc["client_cpu_percent"]),
        acc["verdict"],
        acc["reason"],
        int(acc["dispatch_lateness_us"]["p99"]),
        int(acc["queue_wait_us"]["p99"]),
        float(lat.get("p50", 0.0)) - float(svc.get("p50", 0.0)),
    )


def measure(url: str, duration: int, ladder: list[float]) -> int:
    closed = run(url, duration, None)
    print(closed.line(), flush=True)
    fixed = {r: run(url, duration, r) for r in (2500.0, 10000.0)}
    for step in fixed.values():
        print(step.line(closed.cpu_us), flush=True)
    best = 0.0
    for fraction in ladder:
        rate = round(closed.rps * fraction, -2)
        step = run(url, duration, rate)
        print(f"{step.line(closed.cpu_us)} [{fraction:g}x capacity]", flush=True)
        if step.verdict == "valid":
            best = max(best, rate)
        elif step.verdict == "client_bound":
            print(f"{'':>16}{step.reason}")
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    r2500 = fixed[2500.0].cpu_us / closed.cpu_us
    r10k = fixed[10000.0].cpu_us / closed.cpu_us
    share = best / closed.rps if closed.rps else 0.0
    print(
        f"summary: closed {closed.rps:.0f} rps at {closed.cpu_us:.1f} us/request; open/closed "
        f"CPU per request {r2500:.2f}x at 2,500 and {r10k:.2f}x at 10,000 rps; verdict at "
        f"10,000 {fixed[10000.0].verdict}; highest valid open-loop rate {best:.0f} "
        f"({share:.2f}x capacity); load average {' '.join(load)}"
    )
    ok = r2500 <= 2.0 and r10k <= 2.0 and fixed[10000.0].verdict == "valid" and share >= 0.6
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--duration", type=int, default=4)
    ap.add_argument("--ladder", default="0.2,0.3,0.4,0.5,0.6,0.8")
    opts = ap.parse_args()
    if shutil.which("nginx") is None:
        print("nginx is not installed: apt-get install -y nginx-light libnginx-mod-http-js")
        return 2
    ladder = [float(x) for x in opts.ladder.split(",") if x]
    with SpawnedServer(
        [str(BENCH / "nginx-mcp" / "run.sh"), "{port}"], startup_timeout_s=10.0
    ) as nginx:
        return measure(nginx.url, opts.duration, ladder)


if __name__ == "__main__":
    sys.exit(main())
