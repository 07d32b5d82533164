"""`mcpperf client`: the seed's performance client, with numbers that are true.

    mcpperf client [globals] throughput --requests-per-second 1000
    mcpperf client [globals] latency --io-delay-ms 100
    mcpperf client [globals] stress --computation-size 100
    mcpperf client [globals] memory --mb-per-request 10
    mcpperf client [globals] burst --burst-size 100 --burst-interval-seconds 5
    mcpperf client [globals] concurrent            (closed loop, --concurrency users)

Without --server-url the bundled server (or --server-cmd) is spawned and measured,
its memory and CPU sampled. Prints the seed's result block (or, with --json, only the
report object on stdout); live progress goes to stderr while it runs (--progress),
and --html PATH writes the self-contained HTML report as well.
Exit status 1 when the run failed (errors over 1 %, nothing answered, or the memory
check of --memory-check failed); the table below lists them all.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pytest_mcpperf import progress, settings
from pytest_mcpperf.analysis.compare import summaries_of, with_repeats
from pytest_mcpperf.analysis.criteria import SEED_MEMORY_GROWTH_PERCENT, check_memory
from pytest_mcpperf.analysis.memory import analyze_run
from pytest_mcpperf.cli.exitcodes import Exit
from pytest_mcpperf.cli.memory import trend_lines
from pytest_mcpperf.cli.options import (
    add_typed,
    arg,
    command_parser,
    mode_parser,
    open_target,
    target_fields,
)
from pytest_mcpperf.progress import PROGRESS_CHOICES
from pytest_mcpperf.result import LoadResult, Report
from pytest_mcpperf.spec import (
    DEFAULT_TOOL_ARGUMENTS,
    LOAD_METHODS,
    TOOLS_CALL,
    LoadSpec,
    request_label,
)
from pytest_mcpperf.vocabulary import ARRIVALS, DEFAULT_MAX_RESPONSE_BYTES, PROTOCOLS, option

MAX_ERROR_RATE = 0.01


@dataclass(frozen=True)
class Mode:
    """One subcommand: its pattern, tool, and how its own option maps to arguments."""

    pattern: str
    tool: str
    help: str
    default_rate: float


MODES = {
    "throughput": Mode("throughput", "fast_compute", "open loop at a fixed rate", 1000.0),
    "latency": Mode("latency", "async_io", "open loop of async_io calls", 50.0),
    "stress": Mode("stress", "cpu_intensive", "open loop of cpu_intensive calls", 50.0),
    "memory": Mode("throughput", "memory_allocate", "open loop of memory_allocate calls", 10.0),
    "burst": Mode("burst", "fast_compute", "bursts of requests at fixed intervals", 0.0),
    "concurrent": Mode(
        "concurrent",
        "fast_compute",
        "closed loop: --concurrency users, each with its own session",
        0.0,
    ),
    "journey": Mode(
        "journey",
        "fast_compute",
        "closed loop of whole sessions: --concurrency users, each repeating open "
        "(connect + handshake), tools/list, --journey-calls calls, close (DELETE), "
        "each step timed",
        0.0,
    ),
}


def _run_options() -> argparse.ArgumentParser:
    """Options every client subcommand takes besides the globals."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("run options")
    g.add_argument(
        "--tool",
        metavar="NAME",
        default=None,
        help="call this tool instead of the subcommand's (default: per subcommand)",
    )
    add_typed(
        g,
        "--arguments",
        settings.parse_json_object,
        metavar="JSON",
        default=None,
        help="tool arguments as a JSON object (default: per subcommand)",
    )
    add_typed(
        g,
        "--warmup-seconds",
        settings.parse_non_negative_float,
        metavar="S",
        default=0.0,
        help="send but do not record for this long first (default: 0)",
    )
    add_typed(
        g,
        "--timeout-seconds",
        settings.parse_timeout,
        metavar="S",
        default=30.0,
        help="per-request timeout, counted from the intended send time (default: 30, at most 3600)",
    )
    add_typed(
        g,
        "--max-response-bytes",
        settings.parse_response_bytes,
        metavar="N",
        default=DEFAULT_MAX_RESPONSE_BYTES,
        help="a larger answer (body, or one SSE event) is counted too_large "
        f"(default: {DEFAULT_MAX_RESPONSE_BYTES})",
    )
    add_typed(
        g,
        "--method",
        settings.parse_method,
        metavar="METHOD",
        default=None,
        help="send this request kind instead of tools/call: "
        + ", ".join(LOAD_METHODS[1:])
        + " (default: tools/call)",
    )
    add_typed(
        g,
        "--params",
        settings.parse_json_object,
        metavar="JSON",
        default=None,
        help='the request\'s params as a JSON object, e.g. \'{"uri": "file:///a.txt"}\' '
        "for resources/read (default: {})",
    )
    add_typed(
        g,
        "--mix",
        settings.parse_mix_json,
        metavar="JSON",
        default=None,
        help="a weighted mix instead of one request: a JSON list of [tool, arguments, "
        'weight] and {"method": ..., "params": ..., "weight": ...} entries, e.g. '
        '\'[["echo", {}, 3], {"method": "resources/read", "params": {"uri": "file:///a"}}]\'',
    )
    g.add_argument(
        "--memory-check",
        type=arg(settings.parse_memory_check, "--memory-check"),
        nargs="?",
        const=SEED_MEMORY_GROWTH_PERCENT,
        default=0.0,
        metavar="PERCENT",
        help="apply the seed's memory criterion to the server's RSS over the run: no leak "
        "(RSS still rising through the second half) and growth under PERCENT "
        f"(default {SEED_MEMORY_GROWTH_PERCENT:g}); exit 1 when it fails. Needs the "
        "server's pid (spawned, or --server-pid)",
    )
    g.add_argument(
        "--arrival",
        choices=ARRIVALS,
        default="constant",
        help="open-loop arrival process (default: constant)",
    )
    g.add_argument(
        "--html",
        type=Path,
        metavar="PATH",
        default=None,
        help="also write the self-contained HTML report of the run to PATH",
    )
    g.add_argument(
        "--progress",
        choices=PROGRESS_CHOICES,
        default="auto",
        help="live progress on stderr: auto rewrites one line on a terminal and writes a "
        "line every 10 s otherwise or with CI set; line: always those lines (default: auto)",
    )
    g.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="auto",
        help="MCP era: auto probes 2026-07-28 first (default: auto)",
    )
    return p


def _repeat_options(p: argparse.ArgumentParser) -> None:
    """`client` only: repeats of the run and saving them as a baseline."""
    g = p.add_argument_group("repeats and baselines")
    add_typed(
        g,
        "--repeat",
        settings.parse_positive_int,
        metavar="N",
        default=1,
        help="run the scenario N times; the report keeps every repeat and their spread "
        "(default: 1)",
    )
    g.add_argument(
        "--save",
        nargs="?",
        const="default",
        default=None,
        metavar="NAME",
        help="save the runs' summaries as baseline NAME (default name: default) in "
        "--baseline-dir, keyed by this machine's fingerprint",
    )
    g.add_argument(
        "--baseline-dir",
        metavar="DIR",
        default=".mcpperf/baselines",
        help="where baselines live, in your repository (default: .mcpperf/baselines)",
    )


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    _, modes = command_parser(sub, "client", common, "load-test an MCP server", __doc__)
    run_opts = _run_options()
    for name, client_mode in MODES.items():
        m = mode_parser(
            modes,
            name,
            [common, run_opts],
            client_mode.help,
            f"mcpperf client {name}: {client_mode.help}.",
        )
        _add_mode_options(m, name, client_mode)
        _repeat_options(m)
        m.set_defaults(func=_run)


def _add_mode_options(m: argparse.ArgumentParser, name: str, mode: Mode) -> None:
    g = m.add_argument_group(f"{name} options")
    positive_int, positive_float = settings.parse_positive_int, settings.parse_positive_float
    if mode.default_rate:
        add_typed(
            g,
            "--requests-per-second",
            positive_float,
            metavar="R",
            default=mode.default_rate,
            help=f"target send rate (default: {mode.default_rate:g})",
        )
    if name == "latency":
        add_typed(
            g,
            "--io-delay-ms",
            positive_int,
            metavar="MS",
            default=100,
            help="async_io delay per call (default: 100)",
        )
    elif name == "stress":
        add_typed(
            g,
            "--computation-size",
            positive_int,
            metavar="N",
            default=100,
            help="cpu_intensive size per call (default: 100)",
        )
    elif name == "memory":
        add_typed(
            g,
            "--mb-per-request",
            positive_int,
            metavar="MB",
            default=10,
            help="memory_allocate MiB per call (default: 10)",
        )
    elif name == "journey":
        add_typed(
            g,
            option("cli", "journey_calls"),
            settings.parse_non_negative_int,
            metavar="N",
            default=5,
            help="requests per journey, between tools/list and close (default: 5)",
        )
    elif name == "burst":
        add_typed(
            g,
            "--burst-size",
            positive_int,
            metavar="B",
            default=100,
            help="requests per burst (default: 100)",
        )
        add_typed(
            g,
            "--burst-interval-seconds",
            positive_float,
            metavar="S",
            default=5.0,
            help="seconds between bursts (default: 5)",
        )


def default_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The seed's tool arguments for each subcommand."""
    if args.mode == "latency":
        return {"delay_ms": args.io_delay_ms}
    if args.mode == "stress":
        return {"size": args.computation_size}
    if args.mode == "memory":
        return {"mb_size": args.mb_per_request}
    return dict(DEFAULT_TOOL_ARGUMENTS)


def build_spec(
    args: argparse.Namespace, url: str, pid: int | None, where: dict[str, Any] | None = None
) -> Any:
    """The run's LoadSpec; `where` (`options.target_fields`) adds transport and headers."""
    from pytest_mcpperf.spec import LoadSpec

    mode = MODES[args.mode]
    fields: dict[str, Any] = {"url": url, "server_pid": pid, **(where or {})}
    method = getattr(args, "method", None) or TOOLS_CALL
    params = getattr(args, "params", None) or {}
    if method == TOOLS_CALL and params:  # the long form of --tool/--arguments
        fields["tool"] = str(params.get("name") or args.tool or mode.tool)
        fields["arguments"] = dict(params.get("arguments") or {})
    elif method != TOOLS_CALL:
        fields.update(method=method, params=params, tool=request_label(method, params))
        fields["arguments"] = {}
    mix = getattr(args, "mix", None)
    if mix:
        fields.update(mix=mix, tool=mix[0].tool, arguments=dict(mix[0].arguments))
    return LoadSpec(
        pattern=mode.pattern,
        rate=getattr(args, "requests_per_second", 0.0),
        duration_s=args.duration_seconds,
        concurrency=args.concurrency,
        users=args.concurrency,
        **{
            "tool": args.tool or mode.tool,
            "arguments": args.arguments if args.arguments is not None else default_arguments(args),
            **fields,
        },
        arrival=args.arrival,
        warmup_s=args.warmup_seconds,
        timeout_s=args.timeout_seconds,
        max_response_bytes=args.max_response_bytes,
        burst_size=getattr(args, "burst_size", 100),
        burst_interval_s=getattr(args, "burst_interval_seconds", 5.0),
        journey_calls=getattr(args, "journey_calls", 5),
        protocol=args.protocol,
        processes=args.processes,
        scenario=f"client {args.mode}",
        front_end="cli",
    )


def _run_once(args: argparse.Namespace, spec: LoadSpec) -> LoadResult:
    """One run, with live progress on stderr as `--progress` asks."""
    from pytest_mcpperf.engine import runner

    style = progress.style_for(args.progress, progress.is_terminal(sys.stderr))
    live = None
    if style is not None:
        sink = progress.StreamSink(sys.stderr)
        live = progress.LiveProgress(sink, style, spec.scenario, spec.warmup_s + spec.duration_s)
    try:
        return runner.run(spec, progress=live)
    finally:
        if live is not None:
            live.close()


def _run(args: argparse.Namespace) -> int:
    from pytest_mcpperf.engine import report

    with open_target(args) as target:  # a bad URL or an absent server: usage error, exit 2
        reports = []
        for _ in range(args.repeat):
            spec = build_spec(args, target.url, target.pid, target_fields(args, target))
            reports.append(_run_once(args, spec).to_dict())
        died = target.spawned and not target.alive()  # asked before the target stops
        exit_code, tail = (target.exit_status, target.output_tail(20)) if died else (None, "")
    data = with_repeats(reports)
    if args.save:
        from pytest_mcpperf.baseline import check_name, save

        name = check_name(args.save, "--save")
        path = save(Path(args.baseline_dir), name, {f"client {args.mode}": summaries_of(data)})
        print(f"mcpperf: saved {args.repeat} run(s) as baseline {name} in {path}", file=sys.stderr)
    if died:  # a run whose server died is reported so, and fails
        server = data.setdefault("server", {})
        server.update(alive=False, exit_status=exit_code, output_tail=tail)
    if args.mode == "memory" or args.memory_check:
        data["memory"] = memory_summary(data)
    memory_failed = ""
    if args.memory_check:
        outcome, _ = check_memory(
            data, args.memory_check, f"--memory-check {args.memory_check:g}", "cli"
        )
        data.setdefault("criteria", []).append(outcome.to_dict())
        memory_failed = outcome.message
    if args.html is not None:
        from pytest_mcpperf import htmlreport

        htmlreport.write(args.html, [(args.html.name, data)])
        print(f"mcpperf: HTML report written to {args.html}", file=sys.stderr)
    if args.json:
        print(report.to_json(data))
    else:
        print(report.text_block(cast(Report, data)))
        if data.get("memory"):
            print("\n".join(trend_lines(data["memory"])))
        if "spread" in data:
            print(repeat_block(data))
    if died:
        print(
            f"mcpperf: the server died during the run (exit status {exit_code}); "
            "its last output is in the block above: fix the server, then run again",
            file=sys.stderr,
        )
        return Exit.FAILED
    if memory_failed:
        print(f"mcpperf: memory check failed: {memory_failed}", file=sys.stderr)
        return Exit.FAILED
    return exit_status(data)


def repeat_block(data: dict[str, Any]) -> str:
    """The spread over repeats: min / median / max and the run-to-run variation."""
    lines = [f"=== {len(data['repeats'])} repeats (the block above is the median one) ==="]
    for name, s in data["spread"].items():
        lines.append(
            f"{name}: min {s['min']:.4g}, median {s['median']:.4g}, max {s['max']:.4g}, "
            f"variation {s['cv_percent']:.1f} %"
        )
    return "\n".join(lines)


def memory_summary(data: dict[str, Any]) -> dict[str, Any]:
    """The report's `memory` object: the one analysis of `mcpperf memory` and the
    `memory_series` fixture, over the server's RSS readings of this run ({} without)."""
    a = analyze_run(data)
    return a.to_report() if a is not None else {}


def exit_status(data: dict[str, Any]) -> Exit:
    req = data["requests"]
    done = req["ok"] + req["failed"]
    if req["ok"] == 0 or (done and req["failed"] / done > MAX_ERROR_RATE):
        return Exit.FAILED
    return Exit.OK
