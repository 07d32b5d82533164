"""`mcpperf client`: the seed's performance client, with numbers that are true.

    mcpperf client [globals] throughput --requests-per-second 1000
    mcpperf client [globals] latency --io-delay-ms 100
    mcpperf client [globals] stress --computation-size 100
    mcpperf client [globals] memory --mb-per-request 10
    mcpperf client [globals] burst --burst-size 100 --burst-interval-seconds 5
    mcpperf client [globals] concurrent            (closed loop, --concurrency users)

Without --server-url the bundled server (or --server-cmd) is spawned and measured,
its memory and CPU sampled. Prints the seed's result block (or, with --json, only the
report object on stdout); a progress line goes to stderr while it runs.
Exit status 1 when the run failed (errors over 1 %, or nothing answered); the table
below lists them all.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any, cast

from pytest_mcpperf import settings
from pytest_mcpperf.analysis.memory import analyze, samples_from_report
from pytest_mcpperf.cli.exitcodes import EPILOG, FORMATTER, Exit
from pytest_mcpperf.cli.options import add_typed, open_target
from pytest_mcpperf.result import Report
from pytest_mcpperf.spec import DEFAULT_TOOL_ARGUMENTS
from pytest_mcpperf.vocabulary import ARRIVALS, DEFAULT_MAX_RESPONSE_BYTES, PROTOCOLS

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
    g.add_argument(
        "--arrival",
        choices=ARRIVALS,
        default="constant",
        help="open-loop arrival process (default: constant)",
    )
    g.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="auto",
        help="MCP era: auto probes 2026-07-28 first (default: auto)",
    )
    return p


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "client",
        parents=[common],
        help="load-test an MCP server",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    modes = p.add_subparsers(dest="mode", metavar="MODE", required=True)
    run_opts = _run_options()
    for name, mode in MODES.items():
        m = modes.add_parser(
            name,
            parents=[common, run_opts],
            help=mode.help,
            description=f"mcpperf client {name}: {mode.help}.",
            epilog=EPILOG,
            formatter_class=FORMATTER,
        )
        _add_mode_options(m, name, mode)
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


def build_spec(args: argparse.Namespace, url: str, pid: int | None) -> Any:
    from pytest_mcpperf.spec import LoadSpec

    mode = MODES[args.mode]
    return LoadSpec(
        url=url,
        pattern=mode.pattern,
        rate=getattr(args, "requests_per_second", 0.0),
        duration_s=args.duration_seconds,
        concurrency=args.concurrency,
        users=args.concurrency,
        tool=args.tool or mode.tool,
        arguments=args.arguments if args.arguments is not None else default_arguments(args),
        arrival=args.arrival,
        warmup_s=args.warmup_seconds,
        timeout_s=args.timeout_seconds,
        max_response_bytes=args.max_response_bytes,
        burst_size=getattr(args, "burst_size", 100),
        burst_interval_s=getattr(args, "burst_interval_seconds", 5.0),
        protocol=args.protocol,
        processes=args.processes,
        server_pid=pid,
        scenario=f"client {args.mode}",
        front_end="cli",
    )


class ProgressLine:
    """Writes one progress line a second to stderr (rewritten in place on a TTY)."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, p: Any) -> None:
        line = f"[{p.elapsed_s:6.1f}s] sent {p.sent}  ok {p.ok}  failed {p.failed}  {p.rps:.0f} rps"
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _run(args: argparse.Namespace) -> int:
    from pytest_mcpperf.engine import report, runner

    with open_target(args) as target:  # a bad URL or an absent server: usage error, exit 2
        progress = ProgressLine()
        try:
            result = runner.run(build_spec(args, target.url, target.pid), progress=progress)
        finally:
            progress.done()
        died = target.spawned and not target.alive()
        data = result.to_dict()
        if died:  # a run whose server died is reported so, and fails
            server = data.setdefault("server", {})
            server.update(
                alive=False, exit_status=target.exit_status, output_tail=target.output_tail(20)
            )
    if args.mode == "memory":
        data["memory"] = memory_summary(data)
    if args.json:
        print(report.to_json(data))
    else:
        print(report.text_block(cast(Report, data)))
    if died:
        print(
            f"mcpperf: the server died during the run (exit status {target.exit_status}); "
            "its last output is in the block above: fix the server, then run again",
            file=sys.stderr,
        )
        return Exit.FAILED
    return exit_status(data)


def memory_summary(data: dict[str, Any]) -> dict[str, Any]:
    """The report's `memory` object: the one analysis of `mcpperf memory` and the
    `memory_series` fixture, over the server's RSS readings of this run ({} without)."""
    samples = samples_from_report(data)
    return analyze(samples).to_report() if samples else {}


def exit_status(data: dict[str, Any]) -> Exit:
    req = data["requests"]
    done = req["ok"] + req["failed"]
    if req["ok"] == 0 or (done and req["failed"] / done > MAX_ERROR_RATE):
        return Exit.FAILED
    return Exit.OK
