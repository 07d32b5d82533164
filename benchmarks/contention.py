"""Does the verdict see a busy host? Quiet runs beside runs with busy-looping neighbours.

Starts the bundled server (or `--server-cmd`, `{port}` filled in) and, for ROUNDS rounds,
runs the generator in this process (`engine.runner.run`, the server's pid given so its CPU
is sampled) in two modes:
  - open loop at `--rate` requests/s (modest: neither side near a core),
  - closed loop with `--users` users (the server as busy as it can be),
each first quiet, then beside 1 and 2 busy-looping Python processes (started before the
run, killed by pid after it; each also stops itself after a bound). Before every run the
host's load average and a 1 s sample of host busy % are printed, so "quiet" is checked,
not assumed (other work on a shared machine shows there).

Prints, per run: host busy %, steal %, other work %, generator and server CPU, rps,
latency p50/p99, the verdict and its reason; then, per mode, the throughput and p50 of
each loaded condition against the quiet one. Exits 1 when a run with two busy loops was
judged `valid`, or a quiet run was not valid though its own host figures stayed under the
limits (a run that began quiet may meet other work on a shared machine: it is then
contended, and counted as such).

    python benchmarks/contention.py [--duration 5] [--rounds 2] [--rate 200] [--users 16]
Run it under `flock /tmp/mcpperf-heavy.lock` on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil

from pytest_mcpperf.engine import accuracy, runner
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import Target

#: a neighbour that wants a whole core; it stops itself after `bound` seconds
BUSY_LOOP = (
    "import sys, time\nend = time.monotonic() + float(sys.argv[1])\n"
    "while time.monotonic() < end: pass\n"
)
#: a quiet host, before a run: 1 s host busy under this (percent of all cores)
QUIET_BUSY_PERCENT = 15.0


@contextmanager
def busy_loops(n: int, bound_s: float) -> Iterator[list[int]]:
    """`n` busy-looping processes for the body's duration (and at most `bound_s`)."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(bound_s)]) for _ in range(n)]
    try:
        time.sleep(0.3 if procs else 0.0)  # let them take the CPUs
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=10)


def host_now(wait_quiet_s: float = 0.0) -> tuple[float, float]:
    """(1-minute load average, host busy % over the next second); with `wait_quiet_s`,
    sample again (for at most that long) until the host is quiet."""
    deadline = time.monotonic() + wait_quiet_s
    while True:
        meter = accuracy.HostCpuMeter()
        time.sleep(1.0)
        busy = meter.percent()
        if busy < QUIET_BUSY_PERCENT or time.monotonic() >= deadline:
            return os.getloadavg()[0], busy


def _delay(path: str) -> float:
    try:
        with open(path) as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def run_delay_s(pid: int | None, tree: bool) -> float:
    """Seconds the threads of `pid` (and, with `tree`, of its descendants) spent runnable
    but waiting for a CPU (/proc/PID/task/TID/schedstat, second field; 0 where absent)."""
    if pid is None:
        return 0.0
    try:
        proc = psutil.Process(pid)
        pids = [pid, *(c.pid for c in proc.children(recursive=True))] if tree else [pid]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in pids:
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        total += sum(_delay(f"/proc/{p}/task/{t}/schedstat") for t in tids)
    return total


def one_run(target: Target, mode: str, duration: float, rate: float, users: int) -> dict[str, Any]:
    """One run; adds `waited`: the share of the wall time the server's tree and this
    generator spent waiting for a CPU (percent, from the kernel's run-queue delay)."""
    s0, g0 = run_delay_s(target.pid, tree=True), run_delay_s(os.getpid(), tree=False)
    t0 = time.monotonic()
    common: dict[str, Any] = {
        "url": target.url,
        "server_pid": target.pid,
        "duration_s": duration,
        "tool": "fast_compute",
        "arguments": {"input": 5},
        "scenario": f"contention {mode}",
    }
    if mode == "open":
        spec = LoadSpec(pattern="throughput", rate=rate, concurrency=users, **common)
    else:
        spec = LoadSpec(pattern="concurrent", users=users, **common)
    rep = runner.run(spec).to_dict()
    wall = time.monotonic() - t0
    rep["waited"] = {
        "server": 100.0 * (run_delay_s(target.pid, tree=True) - s0) / wall,
        "generator": 100.0 * (run_delay_s(os.getpid(), tree=False) - g0) / wall,
    }
    return rep


def crowded(acc: dict[str, Any]) -> bool:
    """Whether the run's own host figures pass the contention limits (other work on a
    shared machine can start during a run that began quiet)."""
    lim = accuracy.Limits()
    other = acc.get("host_other_work_percent") or 0.0
    busy = acc["host_cpu_busy_percent"] >= lim.contended_busy_percent
    return (busy and other >= lim.other_share_percent) or (
        acc["host_steal_percent"] >= lim.steal_percent
    )


def row(cond: str, mode: str, load: float, busy0: float, rep: dict[str, Any]) -> str:
    acc, srv = rep["accuracy"], rep.get("server") or {}
    cpu = (srv.get("cpu_percent") or {}).get("mean")
    other = acc.get("host_other_work_percent")
    return (
        f"{mode:6} {cond:8} load {load:4.2f} pre {busy0:5.1f}% | "
        f"host {acc['host_cpu_busy_percent']:5.1f}% "
        f"steal {acc['host_steal_percent']:4.1f}% other {other if other is not None else '-':>5}% "
        f"gen {acc['client_cpu_percent']:5.1f}% server {cpu if cpu is not None else '-':>5}% "
        f"waited gen {rep['waited']['generator']:4.1f}% server {rep['waited']['server']:4.1f}% | "
        f"{rep['throughput_rps']:7.1f} rps p50 {rep['latency_ms']['p50']:7.2f} "
        f"p99 {rep['latency_ms']['p99']:7.2f} ms | {acc['verdict']}: {acc['reason']}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--users", type=int, default=16)
    ap.add_argument("--loops", default="0,1,2", help="busy-loop counts to run (default 0,1,2)")
    ap.add_argument("--server-cmd", default=None)
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=15.0,
        help="before a quiet run, wait up to S s for the host to be quiet (default 15)",
    )
    opts = ap.parse_args()
    loops = [int(n) for n in opts.loops.split(",")]
    names = {0: "quiet", 1: "1 loop", 2: "2 loops"}
    results: dict[tuple[str, int], list[tuple[float, float, dict[str, Any]]]] = {}
    failures: list[str] = []
    print(f"host: {accuracy.host_cpus()} CPUs; limits: {accuracy.Limits()}")
    with Target.spawn(opts.server_cmd) as target:
        one_run(target, "open", 1.0, opts.rate, opts.users)  # warm the server up
        for r in range(opts.rounds):
            for mode in ("open", "closed"):
                for n in loops:
                    load, busy0 = host_now(opts.wait_quiet if n == 0 else 0.0)
                    with busy_loops(n, bound_s=opts.duration + 10.0):
                        rep = one_run(target, mode, opts.duration, opts.rate, opts.users)
                    results.setdefault((mode, n), []).append((load, busy0, rep))
                    print(f"r{r + 1} " + row(names.get(n, f"{n} loops"), mode, load, busy0, rep))
                    verdict = rep["accuracy"]["verdict"]
                    if n >= 2 and verdict == "valid":
                        failures.append(f"{mode} with {n} busy loops was judged valid")
                    if n == 0 and verdict != "valid" and not crowded(rep["accuracy"]):
                        failures.append(
                            f"{mode} quiet (pre-run host {busy0:.0f}% busy, under the limits "
                            f"during the run) was judged {verdict}"
                        )
    print("\nagainst quiet (medians over rounds):")
    for mode in ("open", "closed"):
        base = results.get((mode, 0))
        if not base:
            continue
        rps0 = statistics.median(x[2]["throughput_rps"] for x in base)
        p50_0 = statistics.median(x[2]["latency_ms"]["p50"] for x in base)
        for n in loops:
            got = results[(mode, n)]
            rps = statistics.median(x[2]["throughput_rps"] for x in got)
            p50 = statistics.median(x[2]["latency_ms"]["p50"] for x in got)
            host = statistics.median(x[2]["accuracy"]["host_cpu_busy_percent"] for x in got)
            others = [x[2]["accuracy"].get("host_other_work_percent") or 0.0 for x in got]
            waited = statistics.median(x[2]["waited"]["server"] for x in got)
            verdicts = [x[2]["accuracy"]["verdict"] for x in got]
            print(
                f"  {mode:6} {names.get(n, n)!s:8}: rps {rps:7.1f} ({rps / rps0:.2f}x quiet), "
                f"p50 {p50:6.2f} ms ({p50 / p50_0:.2f}x), host {host:.0f}%, "
                f"other work {statistics.median(others):.0f}%, server waited {waited:.0f}%, "
                f"verdicts {verdicts}"
            )
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
