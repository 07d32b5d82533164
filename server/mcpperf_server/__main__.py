"""`python -m mcpperf_server` / `mcpperf server` (placeholder until the server lands)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind-address", default="127.0.0.1:8080", metavar="HOST:PORT",
                        help="address to listen on (default: 127.0.0.1:8080)")


def run_from_args(args: argparse.Namespace) -> int:
    raise SystemExit("mcpperf server: not implemented yet")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m mcpperf_server")
    add_arguments(parser)
    return run_from_args(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
