"""The `mcpperf` command: the seed's four tools as subcommands.

    mcpperf server  [--bind-address 127.0.0.1:8080]
    mcpperf client  [globals] throughput|latency|stress|memory|burst|concurrent ...
    mcpperf stress  [globals] memory|cpu|flood|chaos|recovery ...
    mcpperf memory  [globals] baseline|leak-detection|growth-analysis ...
    mcpperf report  RUN.json [OTHER.json ...] [-o report.html] [--hgrm HISTOGRAM]
    mcpperf compare --baseline-cmd CMD --candidate-cmd CMD --runs N [globals] PATTERN ...
    mcpperf calibrate --runs N [globals] PATTERN ...

Exit statuses: `pytest_mcpperf.cli.exitcodes.Exit` (the table ends every `--help`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pytest_mcpperf.cli.exitcodes import EPILOG, FORMATTER, Exit
from pytest_mcpperf.cli.options import common_options
from pytest_mcpperf.errors import McpPerfError
from pytest_mcpperf.version import __version__

COMMANDS = ("server", "client", "stress", "memory", "report", "compare")  # compare: also calibrate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcpperf",
        description="Load, stress and memory tests for MCP servers over Streamable HTTP.",
        parents=[common_options(suppress=False)],
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_options(suppress=True)
    for name in COMMANDS:
        module = importlib.import_module(f"pytest_mcpperf.cli.{name}")
        module.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or Exit.OK)
    except McpPerfError as exc:
        print(f"mcpperf: error: {exc}", file=sys.stderr)
        return Exit.USAGE
    except KeyboardInterrupt:
        print("mcpperf: interrupted", file=sys.stderr)
        return Exit.INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
