"""`mcpperf memory baseline|leak-detection|growth-analysis`: the server's memory per request.

Each mode warms the server up, samples the server's RSS (its pid and descendants) at time
zero, then sends load in chunks through the load engine and samples RSS after each chunk,
when nothing is in flight. `pytest_mcpperf.analysis.memory.analyze` fits RSS against requests:

    baseline          --request-count N (default 100): memory per request, efficiency
    leak-detection    --iterations N (default 10000): slope -> stable | moderate | leak
    growth-analysis   --duration-seconds S, a snapshot every --measurement-interval-seconds

The run meets its criteria (exit status 0) when the verdict meets the seed's (no leak,
growth < 10 %); a server whose memory cannot be measured is a setup error (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pytest_mcpperf.analysis.memory import (
    ChunkPlan,
    Measurement,
    MemoryAnalysis,
    MemorySample,
    analyze,
    baseline_plan,
    build_report,
    efficiency_requests_per_mb,
    growth_plan,
    leak_plan,
    measure,
    per_request_rating,
)
from pytest_mcpperf.analysis.server import MeasuredServer
from pytest_mcpperf.analysis.stress import combine
from pytest_mcpperf.cli.exitcodes import Exit
from pytest_mcpperf.cli.options import (
    Runner,
    add_typed,
    command_parser,
    default_runner,
    mode_parser,
    open_target,
    target_fields,
)
from pytest_mcpperf.errors import TargetError
from pytest_mcpperf.settings import (
    parse_json_object,
    parse_non_negative_int,
    parse_positive_float,
    parse_positive_int,
)
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import Target
from pytest_mcpperf.vocabulary import KIB, MIB


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    _, modes = command_parser(
        sub,
        "memory",
        common,
        "server memory analysis",
        __doc__.split("\n\n")[0] if __doc__ else None,
    )
    b = mode_parser(modes, "baseline", [common], "memory per request")
    add_typed(
        b,
        "--request-count",
        parse_positive_int,
        metavar="N",
        default=100,
        help="requests to measure (default: 100)",
    )
    leak = mode_parser(modes, "leak-detection", [common], "leak verdict")
    add_typed(
        leak,
        "--iterations",
        parse_positive_int,
        metavar="N",
        default=10000,
        help="requests to measure (default: 10000)",
    )
    g = mode_parser(modes, "growth-analysis", [common], "memory over time, for --duration-seconds")
    add_typed(
        g,
        "--measurement-interval-seconds",
        parse_positive_float,
        metavar="S",
        default=60.0,
        help="seconds between printed snapshots (default: 60)",
    )
    for m in (b, leak, g):
        _add_load_options(m)
        m.set_defaults(func=run_command)


def _add_load_options(p: argparse.ArgumentParser) -> None:
    add_typed(
        p,
        "--rate",
        parse_positive_float,
        metavar="RPS",
        default=500.0,
        help="open-loop request rate of the measured load (default: 500)",
    )
    add_typed(
        p,
        "--warmup-requests",
        parse_non_negative_int,
        metavar="N",
        default=200,
        help="requests sent before the sample at time zero (default: 200)",
    )
    p.add_argument(
        "--tool",
        metavar="NAME",
        default="fast_compute",
        help="tool called by every request (default: fast_compute)",
    )
    add_typed(
        p,
        "--arguments",
        parse_json_object,
        metavar="JSON",
        default={"input": 5},
        help='its arguments as a JSON object (default: {"input": 5})',
    )


def make_plan(args: argparse.Namespace) -> ChunkPlan:
    if args.mode == "baseline":
        return baseline_plan(args.request_count)
    if args.mode == "leak-detection":
        return leak_plan(args.iterations)
    return growth_plan(args.duration_seconds, args.measurement_interval_seconds, args.rate)


def snapshot_block(label: str, samples: Sequence[MemorySample]) -> str:
    last, first = samples[-1], samples[0]
    peak = max(s.rss_bytes for s in samples)
    change = last.rss_bytes - first.rss_bytes
    return "\n".join(
        [
            f"=== Memory Snapshot: {label} ===",
            f"Requests completed: {last.requests:,}",
            f"Elapsed: {last.t:.2f} s",
            f"RSS (server): {last.rss_bytes / MIB:.2f} MB",
            f"Peak RSS (server): {peak / MIB:.2f} MB",
            f"Change since initial: {change / MIB:+.2f} MB",
            "",
        ]
    )


def analysis_block(mode: str, a: MemoryAnalysis, alive: bool) -> str:
    title = {
        "baseline": "Baseline Analysis",
        "leak-detection": "Leak Detection Analysis",
        "growth-analysis": "Growth Analysis",
    }[mode]
    eff = efficiency_requests_per_mb(a.bytes_per_request)
    lines = [
        f"=== {title} ===",
        f"Memory per request: {a.bytes_per_request:,.0f} bytes "
        f"({per_request_rating(a.bytes_per_request)})",
        "Memory efficiency: "
        + (
            f"{eff:,.2f} requests per MB"
            if eff is not None
            else "no measurable memory retained per request"
        ),
        f"Slope over time: {a.slope_bytes_per_s / KIB:,.1f} KiB/s",
        f"Growth: {a.growth_percent:+.2f}% ({a.growth_bytes / MIB:+.2f} MB fitted over "
        f"{a.requests:,} requests, {a.samples} samples)",
        f"Memory stability: {a.stability_percent:.1f}% ({a.stability_grade})",
        *trend_lines(a.to_report())[1:],
        f"Verdict: {a.verdict} - {verdict_text(a)}",
    ]
    if not alive:
        lines.append("The server DIED during the measurement.")
    lines.append(
        "Result: " + ("PASS" if a.passed and alive else "FAIL (criteria: no leak, < 10% growth)")
    )
    return "\n".join(lines)


def trend_lines(memory: Mapping[str, Any]) -> list[str]:
    """The memory verdict of a report's `memory` object: the verdict and growth, the
    slopes of both halves of the series, and the reason."""
    lines = [
        f"Memory: {memory.get('verdict')} ({memory.get('trend', 'unknown')}), growth "
        f"{memory.get('growth_percent', 0.0):+.2f}%, "
        f"{memory.get('bytes_per_request', 0.0):,.0f} bytes/request"
    ]
    halves = [(k, memory.get(k) or {}) for k in ("first_half", "second_half")]
    if all(h for _, h in halves):
        lines.append(
            "Trend: "
            + "; ".join(
                f"{k.replace('_', ' ')} {h['bytes_per_request']:,.0f} bytes/request, "
                f"{h['bytes_per_s'] / KIB:,.1f} KiB/s ({h['rise_bytes'] / MIB:+.1f} MiB)"
                for k, h in halves
            )
        )
    if memory.get("reason"):
        lines.append(f"Reason: {memory['reason']}")
    return lines


def verdict_text(a: MemoryAnalysis) -> str:
    if a.verdict == "leak":
        return (
            f"the server keeps about {a.bytes_per_request / KIB:,.1f} KiB per request "
            "and does not give it back"
        )
    if a.verdict == "moderate":
        return "memory grows with requests, slower than a leak; watch it over a longer run"
    if a.verdict == "insufficient":
        return "too few samples after warm-up to fit a slope; send more requests"
    return "no memory retained per request beyond noise"


def base_spec(args: argparse.Namespace, target: Target) -> LoadSpec:
    return LoadSpec(
        pattern="throughput",
        rate=args.rate,
        concurrency=args.concurrency,
        tool=args.tool,
        arguments=dict(args.arguments),
        processes=args.processes,
        scenario=f"memory {args.mode}",
        front_end="cli",
        **target_fields(args, target),
    )


def run_command(
    args: argparse.Namespace, run: Runner | None = None, clock: Callable[[], float] | None = None
) -> int:
    out: Callable[[str], None] = (lambda _s: None) if args.json else print

    def snapshot(label: str, samples: Sequence[MemorySample]) -> None:
        out(snapshot_block(label, samples))

    with open_target(args) as target:
        if target.pid is None:
            raise TargetError(
                "the server's memory cannot be measured: --server-url gives "
                "no process to sample; let mcpperf spawn it (--server-cmd "
                '"CMD {port}") or pass its pid with --server-pid'
            )
        base = base_spec(args, target)
        m = measure(
            target,
            base,
            make_plan(args),
            run or default_runner(),
            args.warmup_requests,
            clock or time.monotonic,
            snapshot,
        )
    return finish(args, target, base, m, out)


def finish(
    args: argparse.Namespace,
    target: MeasuredServer,
    base: LoadSpec,
    m: Measurement,
    out: Callable[[str], None],
) -> int:
    total = combine(m.tallies)
    if total.ok == 0 and m.server_alive:
        raise TargetError(
            f"no request succeeded calling {args.tool!r} on {target.url}; "
            "check --tool and --arguments against the server's tools/list"
        )
    a = analyze(m.samples)
    if args.json:
        report = build_report(f"memory {args.mode}", target, base, m, a, args.warmup_requests)
        print(json.dumps(report, indent=2))
    else:
        if total.failed:
            out(f"note: {total.failed:,} of {total.attempted:,} requests failed")
        out(analysis_block(args.mode, a, m.server_alive))
    return Exit.OK if a.passed and m.server_alive else Exit.FAILED
