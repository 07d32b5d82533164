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
import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from pytest_mcpperf.analysis.server import MeasuredServer, RunMany
from pytest_mcpperf.analysis.stress import (
    Phases,
    ProbePolicy,
    StressAnalysis,
    StressLoad,
    analyze_phases,
    build_report,
    grade_message,
    run_stress,
)
from pytest_mcpperf.cli.exitcodes import Exit
from pytest_mcpperf.cli.options import (
    add_typed,
    command_parser,
    engine,
    mode_parser,
    open_target,
    reach_fields,
)
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.settings import (
    parse_json_object,
    parse_percent,
    parse_positive_float,
    parse_positive_int,
)
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.vocabulary import ERROR_CLASSES


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    _, modes = command_parser(
        sub,
        "stress",
        common,
        "stress a server, grade reliability",
        __doc__.split("\n\n")[0] if __doc__ else None,
    )
    add = _mode_adder(modes, common)
    m = add("memory", "concurrent memory_allocate calls")
    _concurrent(m)
    _mb(m)
    c = add("cpu", "concurrent cpu_intensive calls")
    _concurrent(c)
    _size(c)
    f = add("flood", "a flood of requests and connections")
    add_typed(
        f,
        "--connections-per-second",
        parse_positive_int,
        metavar="N",
        default=1000,
        help="requests (each may open a connection) per second (default: 1000)",
    )
    add_typed(
        f,
        "--max-connections",
        parse_positive_int,
        metavar="N",
        default=5000,
        help="most connections open at once (default: 5000)",
    )
    ch = add("chaos", "a weighted mix of tools with deliberate faults")
    _concurrent(ch)
    add_typed(
        ch,
        "--error-rate-percent",
        parse_percent,
        metavar="P",
        default=50,
        help="share of requests that are deliberate error_simulation faults, 0-99 (default: 50)",
    )
    add_typed(
        ch,
        "--requests-per-second",
        parse_positive_float,
        metavar="RPS",
        default=200.0,
        help="offered load, open loop, faults included (default: 200)",
    )
    r = add("recovery", "memory + CPU stress, then time the recovery")
    _concurrent(r)
    _mb(r)
    _size(r)


def _mode_adder(
    modes: Any, common: argparse.ArgumentParser
) -> Callable[[str, str], argparse.ArgumentParser]:
    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = mode_parser(modes, name, [common], help_text)
        _probe_options(p)
        p.set_defaults(func=run_command)
        return p

    return add


def _concurrent(p: argparse.ArgumentParser) -> None:
    add_typed(
        p,
        "--max-concurrent",
        parse_positive_int,
        metavar="N",
        default=100,
        help="concurrent users, each with its own session (default: 100)",
    )


def _mb(p: argparse.ArgumentParser) -> None:
    add_typed(
        p,
        "--mb-per-request",
        parse_positive_int,
        metavar="MB",
        default=50,
        help="memory_allocate(mb_size) per call (default: 50)",
    )


def _size(p: argparse.ArgumentParser) -> None:
    add_typed(
        p,
        "--computation-size",
        parse_positive_int,
        metavar="N",
        default=1000,
        help="cpu_intensive(size) per call (default: 1000)",
    )


def _probe_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("recovery probe")
    add_typed(
        g,
        "--probe-rate",
        parse_positive_float,
        metavar="RPS",
        default=20.0,
        help="light probe rate before and after the stress (default: 20)",
    )
    add_typed(
        g,
        "--probe-interval-seconds",
        parse_positive_float,
        metavar="S",
        default=1.0,
        help="length of one probe interval (default: 1)",
    )
    add_typed(
        g,
        "--baseline-intervals",
        parse_positive_int,
        metavar="N",
        default=3,
        help="probe intervals that define the healthy range (default: 3)",
    )
    add_typed(
        g,
        "--hold-intervals",
        parse_positive_int,
        metavar="N",
        default=3,
        help="healthy intervals in a row that count as recovered (default: 3)",
    )
    add_typed(
        g,
        "--recovery-timeout-seconds",
        parse_positive_float,
        metavar="S",
        default=60.0,
        help="stop probing after this long (default: 60)",
    )
    g.add_argument(
        "--probe-tool",
        metavar="NAME",
        default="fast_compute",
        help="tool the probe calls (default: fast_compute)",
    )
    add_typed(
        g,
        "--probe-arguments",
        parse_json_object,
        metavar="JSON",
        default={"input": 5},
        help='its arguments (default: {"input": 5})',
    )


def stress_load(args: argparse.Namespace) -> StressLoad:
    """The stress phase the mode's options ask for."""
    return StressLoad(
        mode=args.mode,
        duration_s=args.duration_seconds,
        processes=args.processes,
        front_end="cli",
        **{
            name: getattr(args, name)
            for name in (
                "max_concurrent",
                "mb_per_request",
                "computation_size",
                "connections_per_second",
                "max_connections",
                "requests_per_second",
                "error_rate_percent",
            )
            if hasattr(args, name)
        },
    )


def probe_policy(args: argparse.Namespace) -> ProbePolicy:
    """The recovery probe the options ask for."""
    return ProbePolicy(
        args.baseline_intervals,
        args.hold_intervals,
        args.recovery_timeout_seconds,
        args.probe_interval_seconds,
        args.probe_rate,
        args.probe_tool,
        dict(args.probe_arguments),
    )


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


def run_phases(
    args: argparse.Namespace, target: MeasuredServer, run_many: RunMany, clock: Callable[[], float]
) -> Phases:
    load = dataclasses.replace(stress_load(args), reach=reach_fields(args))
    return run_stress(target, load, probe_policy(args), run_many, clock)


def _pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:.1f}%" if d else "n/a"


def results_block(args: argparse.Namespace, ph: Phases, a: StressAnalysis) -> str:
    e, d = a.expected, a.deliberate
    lat = ph.main().get("latency_ms", {})
    errors = ", ".join(f"{k} {getattr(e, k)}" for k in ERROR_CLASSES if getattr(e, k))
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
        lines.append(
            f"  Deliberate faults (not scored): {d.sent:,} sent, {d.failed:,} "
            f"answered as errors, {d.ok:,} as successes"
        )
    by_code = ph.main().get("errors_by_code") or {}
    codes = "; ".join(
        f"{cls} " + ", ".join(f"{code}: {n:,}" for code, n in per.items())
        for cls, per in by_code.items()
        if per
    )
    if codes:
        lines.append(f"  Errors by code: {codes}")
    conns = ph.main().get("requests", {}).get("connections_opened")
    if conns:
        lines.append(f"  Connections opened: {conns:,}")
    lines += [
        f"Latency: p50 {lat.get('p50', 0):.2f} ms, p99 {lat.get('p99', 0):.2f} ms, "
        f"max {lat.get('max', 0):.2f} ms",
        "Server alive: "
        + (
            "yes"
            if a.server_alive
            else "NO - the server died" + (f" ({ph.died_with})" if ph.died_with else "")
        ),
        "Recovery time: " + _recovery_text(ph, a),
        "",
        f"Overall Reliability Score: {a.reliability_percent:.2f}%",
        f"{a.grade} - {grade_message(a.grade)}",
        "Result: "
        + (
            "PASS"
            if a.passed
            else "FAIL (criteria: server alive, grade better than POOR, recovery < 30 s)"
        ),
    ]
    return "\n".join(lines)


def _recovery_text(ph: Phases, a: StressAnalysis) -> str:
    if not a.server_alive:
        return "n/a (server not alive)"
    if a.recovery_s is None:
        return f"not recovered within {ph.probe_timeout_s:g} s"
    limit = ph.healthy
    where = (
        f" (p99 <= {limit.p99_limit_ms:.1f} ms, errors <= {100 * limit.error_rate_limit:.1f}%)"
        if limit
        else ""
    )
    return f"{a.recovery_s:.2f} s after the stress stopped{where}, criterion < 30 s"


def run_command(
    args: argparse.Namespace,
    run_many: RunMany | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    if args.probe_interval_seconds > args.recovery_timeout_seconds:
        raise ConfigError(
            "--probe-interval-seconds is longer than --recovery-timeout-seconds: "
            "shorten the interval or allow more time"
        )
    with open_target(args) as target:
        ph = run_phases(args, target, run_many or default_run_many(), clock)
    a = analyze_phases(ph, args.hold_intervals)
    if args.json:
        print(json.dumps(build_report(ph, a), indent=2))
    else:
        print(results_block(args, ph, a))
    return Exit.OK if a.passed else Exit.FAILED


__all__ = ["probe_policy", "register", "results_block", "run_command", "run_phases", "stress_load"]
