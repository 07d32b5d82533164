"""`mcpperf stress memory|cpu|flood|chaos|recovery`: push a server hard, then score it.

Every mode runs the same three phases against one server:

1. baseline: a light probe (--probe-rate, in --probe-interval-seconds intervals) records
   the healthy range of p99 and error rate;
2. stress, for --duration-seconds:
     memory    --max-concurrent users each calling memory_allocate(--mb-per-request)
     cpu       --max-concurrent users each calling cpu_intensive(--computation-size)
     flood     open loop at --connections-per-second through up to --max-connections
     chaos     open loop at --requests-per-second through --max-concurrent connections:
               a weighted mix of tools, and --error-rate-percent of the requests are
               error_simulation faults (sent alongside, scored apart)
     recovery  --max-concurrent users over memory_allocate + cpu_intensive
3. recovery: the probe runs again until `--hold-intervals` intervals in a row are back in
   the baseline's range, or --recovery-timeout-seconds pass.

Reliability = successes among requests expected to succeed; grades >= 99 EXCELLENT,
>= 95 GOOD, >= 90 MODERATE, else POOR. The run meets its criteria (exit status 0) when
the server stayed alive, graded better than POOR and recovered in under 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pytest_mcpperf.analysis.stress import (
    BaselineRange,
    ProbeSample,
    StressAnalysis,
    Tally,
    analyze,
    combine,
    grade,
    grade_message,
    recovered,
    recovery_time,
    tally_from_requests,
)
from pytest_mcpperf.cli.exitcodes import EPILOG, FORMATTER, Exit
from pytest_mcpperf.cli.options import add_typed, engine, open_target
from pytest_mcpperf.errors import ConfigError, McpPerfError
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.settings import (
    parse_json_object,
    parse_percent,
    parse_positive_float,
    parse_positive_int,
)
from pytest_mcpperf.spec import LoadSpec, ToolCall
from pytest_mcpperf.target import Target

RunMany = Callable[[Sequence[LoadSpec]], list[LoadResult]]

FAULTS = ("invalid", "protocol", "internal", "timeout", "disconnect", "overload")
CHAOS_MIX = (
    ToolCall("fast_compute", {"input": 7}, 3.0),
    ToolCall("async_io", {"delay_ms": 20}, 2.0),
    ToolCall("cpu_intensive", {"size": 50}, 1.0),
    ToolCall("memory_allocate", {"mb_size": 1}, 1.0),
    ToolCall("session_counter", {"increment": 1, "counter_id": "chaos"}, 1.0),
)
# A "timeout" fault answers after 1 s; fault runs give up after FAULT_TIMEOUT_S, so it is
# a real client-side timeout and does not hold a connection for the default 5 s.
FAULT_TIMEOUT_S = 0.5
FAULT_MIX = tuple(
    ToolCall("error_simulation",
             {"error_type": f, **({"timeout_ms": 1000} if f == "timeout" else {})}, 1.0)
    for f in FAULTS)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("stress", parents=[common], help="stress a server, grade reliability",
                       description=__doc__.split("\n\n")[0] if __doc__ else None,
                       epilog=EPILOG, formatter_class=FORMATTER)
    modes = p.add_subparsers(dest="mode", metavar="MODE", required=True)
    add = _mode_adder(modes, common)
    m = add("memory", "concurrent memory_allocate calls")
    _concurrent(m)
    _mb(m)
    c = add("cpu", "concurrent cpu_intensive calls")
    _concurrent(c)
    _size(c)
    f = add("flood", "a flood of requests and connections")
    add_typed(f, "--connections-per-second", parse_positive_int, metavar="N", default=1000,
              help="requests (each may open a connection) per second (default: 1000)")
    add_typed(f, "--max-connections", parse_positive_int, metavar="N", default=5000,
              help="most connections open at once (default: 5000)")
    ch = add("chaos", "a weighted mix of tools with deliberate faults")
    _concurrent(ch)
    add_typed(ch, "--error-rate-percent", parse_percent, metavar="P", default=50,
              help="share of requests that are deliberate error_simulation faults, "
              "0-99 (default: 50)")
    add_typed(ch, "--requests-per-second", parse_positive_float, metavar="RPS", default=200.0,
              help="offered load, open loop, faults included (default: 200)")
    r = add("recovery", "memory + CPU stress, then time the recovery")
    _concurrent(r)
    _mb(r)
    _size(r)


def _mode_adder(modes: Any, common: argparse.ArgumentParser) -> Callable[
        [str, str], argparse.ArgumentParser]:
    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = modes.add_parser(name, parents=[common], help=help_text,
                                                      epilog=EPILOG, formatter_class=FORMATTER)
        _probe_options(p)
        p.set_defaults(func=run_command)
        return p
    return add


def _concurrent(p: argparse.ArgumentParser) -> None:
    add_typed(p, "--max-concurrent", parse_positive_int, metavar="N", default=100,
              help="concurrent users, each with its own session (default: 100)")


def _mb(p: argparse.ArgumentParser) -> None:
    add_typed(p, "--mb-per-request", parse_positive_int, metavar="MB", default=50,
              help="memory_allocate(mb_size) per call (default: 50)")


def _size(p: argparse.ArgumentParser) -> None:
    add_typed(p, "--computation-size", parse_positive_int, metavar="N", default=1000,
              help="cpu_intensive(size) per call (default: 1000)")


def _probe_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("recovery probe")
    add_typed(g, "--probe-rate", parse_positive_float, metavar="RPS", default=20.0,
              help="light probe rate before and after the stress (default: 20)")
    add_typed(g, "--probe-interval-seconds", parse_positive_float, metavar="S", default=1.0,
              help="length of one probe interval (default: 1)")
    add_typed(g, "--baseline-intervals", parse_positive_int, metavar="N", default=3,
              help="probe intervals that define the healthy range (default: 3)")
    add_typed(g, "--hold-intervals", parse_positive_int, metavar="N", default=3,
              help="healthy intervals in a row that count as recovered (default: 3)")
    add_typed(g, "--recovery-timeout-seconds", parse_positive_float, metavar="S",
              default=60.0, help="stop probing after this long (default: 60)")
    g.add_argument("--probe-tool", metavar="NAME", default="fast_compute",
                   help="tool the probe calls (default: fast_compute)")
    add_typed(g, "--probe-arguments", parse_json_object, metavar="JSON",
              default={"input": 5}, help='its arguments (default: {"input": 5})')


def _users(total: int, percent: int) -> tuple[int, int]:
    """Split `total` connections into (ordinary, faulty) by `percent`, >= 1 each if used."""
    faulty = round(total * percent / 100)
    if percent and faulty == 0:
        faulty = 1
    ordinary = max(1, total - faulty)
    return ordinary, faulty


def stress_specs(args: argparse.Namespace, url: str, pid: int | None,
                 ) -> tuple[LoadSpec, LoadSpec | None]:
    """The stress phase: the spec expected to succeed, and the deliberate-fault one."""
    base = LoadSpec(url=url, pattern="concurrent", duration_s=args.duration_seconds,
                    processes=args.processes, server_pid=pid, scenario=f"stress {args.mode}",
                    timeout_s=30.0)
    mode = args.mode
    if mode in ("memory", "cpu", "recovery", "chaos"):
        base = base.replace(users=args.max_concurrent, concurrency=args.max_concurrent)
    if mode == "memory":
        return base.replace(tool="memory_allocate",
                            arguments={"mb_size": args.mb_per_request}), None
    if mode == "cpu":
        return base.replace(tool="cpu_intensive",
                            arguments={"size": args.computation_size}), None
    if mode == "recovery":
        mix = (ToolCall("memory_allocate", {"mb_size": args.mb_per_request}),
               ToolCall("cpu_intensive", {"size": args.computation_size}))
        return base.replace(mix=mix), None
    if mode == "flood":
        return base.replace(pattern="throughput", rate=float(args.connections_per_second),
                            concurrency=args.max_connections, tool="fast_compute",
                            arguments={"input": 5}), None
    return chaos_specs(base, args.requests_per_second, args.max_concurrent,
                       args.error_rate_percent)


def chaos_specs(base: LoadSpec, rate: float, max_concurrent: int, percent: int,
                ) -> tuple[LoadSpec, LoadSpec | None]:
    """Open loop at `rate`: `percent` % of it deliberate faults, sent at the same time."""
    ordinary_users, faulty_users = _users(max_concurrent, percent)
    expected = base.replace(pattern="throughput", rate=rate * (100 - percent) / 100,
                            concurrency=ordinary_users, mix=CHAOS_MIX)
    if not percent:
        return expected, None
    faults = base.replace(pattern="throughput", rate=rate * percent / 100,
                          concurrency=faulty_users, mix=FAULT_MIX, timeout_s=FAULT_TIMEOUT_S,
                          scenario="stress chaos (deliberate faults)")
    return expected, faults


def probe_spec(args: argparse.Namespace, url: str) -> LoadSpec:
    return LoadSpec(url=url, pattern="throughput", rate=args.probe_rate,
                    duration_s=args.probe_interval_seconds, concurrency=2,
                    tool=args.probe_tool, arguments=dict(args.probe_arguments),
                    timeout_s=5.0, scenario="stress probe")


def default_run_many() -> RunMany:
    """Run specs at the same time through the engine (`run` for one, `arun`s for more)."""
    runner = engine()

    def run_many(specs: Sequence[LoadSpec]) -> list[LoadResult]:
        if len(specs) == 1:
            return [cast(LoadResult, runner.run(specs[0]))]

        async def together() -> list[LoadResult]:
            results = await asyncio.gather(*(runner.arun(s) for s in specs))
            return [cast(LoadResult, r) for r in results]
        return asyncio.run(together())
    return run_many


def to_probe(result: LoadResult, t: float) -> ProbeSample:
    req = result.to_dict().get("requests", {})
    p99 = float(result.to_dict().get("latency_ms", {}).get("p99", 0.0) or 0.0)
    return ProbeSample(t, p99, int(req.get("ok", 0)), int(req.get("failed", 0)))


@dataclass
class Phases:
    """Everything a stress run measured."""

    baseline: list[ProbeSample] = field(default_factory=list)
    stress: list[LoadResult] = field(default_factory=list)
    probes: list[ProbeSample] = field(default_factory=list)
    healthy: BaselineRange | None = None
    server_alive: bool = True
    probe_timeout_s: float = 0.0
    died_with: str = ""

    def main(self) -> dict[str, Any]:
        """The report of the stress run expected to succeed ({} if the server died)."""
        return self.stress[0].to_dict() if self.stress else {}


def probe_until_recovered(take: Callable[[float], ProbeSample], healthy: BaselineRange,
                          clock: Callable[[], float], stopped_at: float, timeout_s: float,
                          hold: int, interval_s: float) -> list[ProbeSample]:
    """Probe after the stress until `hold` healthy intervals in a row, or `timeout_s`."""
    probes: list[ProbeSample] = []
    max_probes = int(timeout_s / interval_s) + hold + 1
    while len(probes) < max_probes and clock() - stopped_at < timeout_s:
        probes.append(take(clock() - stopped_at))
        if recovered(probes, healthy, hold=hold):
            break
    return probes


@dataclass(frozen=True)
class ProbePolicy:
    """How the light probe defines health and waits for recovery."""

    baseline_intervals: int = 3
    hold_intervals: int = 3
    timeout_s: float = 60.0
    interval_s: float = 1.0


def stress_with_recovery(stress: Callable[[], list[LoadResult]],
                         probe: Callable[[], LoadResult], alive: Callable[[], bool],
                         clock: Callable[[], float], policy: ProbePolicy) -> Phases:
    """Baseline probes, the stress, then probes until recovered (bounded by the policy)."""
    ph = Phases(probe_timeout_s=policy.timeout_s)

    def take(t: float) -> ProbeSample:
        return to_probe(probe(), t)

    n = policy.baseline_intervals
    ph.baseline = [take(-1.0 * (n - i)) for i in range(n)]
    ph.healthy = BaselineRange.from_samples(ph.baseline)
    try:
        ph.stress = stress()
    except McpPerfError as exc:
        if alive():
            raise
        ph.died_with = str(exc)  # the server died under the stress: a result, not an error
    stopped_at = clock()
    ph.server_alive = alive()
    if ph.server_alive:
        ph.probes = probe_until_recovered(take, ph.healthy, clock, stopped_at, policy.timeout_s,
                                          policy.hold_intervals, policy.interval_s)
        ph.server_alive = alive()
    return ph


def run_phases(args: argparse.Namespace, target: Target, run_many: RunMany,
               clock: Callable[[], float]) -> Phases:
    probe = probe_spec(args, target.url)
    expected, faults = stress_specs(args, target.url, target.pid)
    policy = ProbePolicy(args.baseline_intervals, args.hold_intervals,
                         args.recovery_timeout_seconds, args.probe_interval_seconds)
    return stress_with_recovery(
        lambda: run_many([expected] if faults is None else [expected, faults]),
        lambda: run_many([probe])[0], target.alive, clock, policy)


def analyze_phases(ph: Phases, hold: int) -> StressAnalysis:
    if not ph.stress:
        return StressAnalysis(0.0, grade(0.0), None, ph.server_alive, Tally(), Tally())
    expected = tally_from_requests(ph.main().get("requests", {}))
    deliberate = combine(tally_from_requests(r.to_dict().get("requests", {}))
                         for r in ph.stress[1:])
    rec = None
    if ph.healthy is not None and ph.server_alive:
        rec = recovery_time(ph.probes, ph.healthy, hold=hold)
    return analyze(expected, deliberate=deliberate, server_alive=ph.server_alive,
                   recovery_s=rec)


def _pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:.1f}%" if d else "n/a"


def results_block(args: argparse.Namespace, ph: Phases, a: StressAnalysis) -> str:
    e, d = a.expected, a.deliberate
    lat = ph.main().get("latency_ms", {})
    errors = ", ".join(f"{k} {getattr(e, k)}" for k in
                       ("tool_error", "rpc_error", "http_error", "transport", "timeout")
                       if getattr(e, k))
    lines = [
        "=== Comprehensive Stress Test Results ===",
        f"Scenario: stress {args.mode}, {args.duration_seconds:g} s",
        "Request Statistics:",
        f"  Requests sent: {e.sent:,} (of {e.attempted:,} scheduled)",
        f"  Requests completed: {e.completed:,} ({_pct(e.completed, e.attempted)})",
        f"  Requests successful: {e.ok:,} ({_pct(e.ok, e.attempted)})",
        f"  Requests failed: {e.attempted - e.ok:,} ({_pct(e.attempted - e.ok, e.attempted)})"
        + (f" [{errors}]" if errors else ""),
    ]
    if d.attempted:
        lines.append(f"  Deliberate faults (not scored): {d.sent:,} sent, {d.failed:,} "
                     f"answered as errors, {d.ok:,} as successes")
    by_code = ph.main().get("errors_by_code") or {}
    codes = "; ".join(f"{cls} " + ", ".join(f"{code}: {n:,}" for code, n in per.items())
                      for cls, per in by_code.items() if per)
    if codes:
        lines.append(f"  Errors by code: {codes}")
    conns = ph.main().get("requests", {}).get("connections_opened")
    if conns:
        lines.append(f"  Connections opened: {conns:,}")
    lines += [
        f"Latency: p50 {lat.get('p50', 0):.2f} ms, p99 {lat.get('p99', 0):.2f} ms, "
        f"max {lat.get('max', 0):.2f} ms",
        "Server alive: " + ("yes" if a.server_alive else "NO - the server died"
                            + (f" ({ph.died_with})" if ph.died_with else "")),
        "Recovery time: " + _recovery_text(ph, a),
        "",
        f"Overall Reliability Score: {a.reliability_percent:.2f}%",
        f"{a.grade} - {grade_message(a.grade)}",
        "Result: " + ("PASS" if a.passed else "FAIL (criteria: server alive, grade better "
                      "than POOR, recovery < 30 s)"),
    ]
    return "\n".join(lines)


def _recovery_text(ph: Phases, a: StressAnalysis) -> str:
    if not a.server_alive:
        return "n/a (server not alive)"
    if a.recovery_s is None:
        return f"not recovered within {ph.probe_timeout_s:g} s"
    limit = ph.healthy
    where = (f" (p99 <= {limit.p99_limit_ms:.1f} ms, errors <= "
             f"{100 * limit.error_rate_limit:.1f}%)" if limit else "")
    return f"{a.recovery_s:.2f} s after the stress stopped{where}, criterion < 30 s"


def with_stress_report(ph: Phases, a: StressAnalysis) -> LoadResult:
    """The stress run's result with the report's `stress` object added."""
    return LoadResult(build_report(ph, a))


def build_report(ph: Phases, a: StressAnalysis) -> dict[str, Any]:
    report = ph.main()
    stress = a.to_report()
    stress["baseline"] = [vars(s) for s in ph.baseline]
    stress["probes"] = [vars(s) for s in ph.probes]
    if ph.healthy is not None:
        stress["healthy_range"] = {"p99_ms": ph.healthy.p99_limit_ms,
                                   "error_rate": ph.healthy.error_rate_limit}
    report["stress"] = stress
    return report


def run_command(args: argparse.Namespace, run_many: RunMany | None = None,
                clock: Callable[[], float] = time.monotonic) -> int:
    if args.probe_interval_seconds > args.recovery_timeout_seconds:
        raise ConfigError("--probe-interval-seconds is longer than --recovery-timeout-seconds: "
                          "shorten the interval or allow more time")
    with open_target(args) as target:
        ph = run_phases(args, target, run_many or default_run_many(), clock)
    a = analyze_phases(ph, args.hold_intervals)
    if args.json:
        print(json.dumps(build_report(ph, a), indent=2))
    else:
        print(results_block(args, ph, a))
    return Exit.OK if a.passed else Exit.FAILED


__all__ = ["Phases", "ProbePolicy", "analyze_phases", "register", "run_command",
           "stress_specs", "stress_with_recovery", "with_stress_report"]
