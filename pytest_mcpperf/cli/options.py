"""Subcommands of the `mcpperf` command, one module each.

Each module exposes `register(subparsers, common)`, where `common` is the parent parser
holding the global options, so that they are accepted before or after the subcommand.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

DEFAULT_SERVER_URL = "http://127.0.0.1:8080/mcp"


def _parse(text: str, kind: type[int] | type[float], what: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid {what} {text!r}") from None


def positive_int(text: str) -> int:
    value = int(_parse(text, int, "integer"))
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def positive_float(text: str) -> float:
    value = _parse(text, float, "number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def non_negative_float(text: str) -> float:
    value = _parse(text, float, "number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def json_object(text: str) -> dict[str, Any]:
    """A JSON object given on the command line (tool arguments)."""
    try:
        value = json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid JSON {text!r}: pass an object such as "
                                         "'{\"input\": 5}'") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r} is not a JSON object: wrap it in {{...}}")
    return value




def common_options(*, suppress: bool) -> argparse.ArgumentParser:
    """The global options, as a parent parser.

    The top-level parser gets real defaults; subcommand parsers get SUPPRESS, so a value
    given after the subcommand wins and one given before it is kept.
    """
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("global options")

    def d(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    g.add_argument("--server-url", metavar="URL", default=d(None),
                   help="MCP endpoint of a running server (default: spawn the bundled "
                   f"server; the seed's default was {DEFAULT_SERVER_URL})")
    g.add_argument("--server-cmd", metavar="CMD", default=d(None),
                   help="spawn this server command instead, '{port}' replaced by a free "
                   "port (default: the bundled server)")
    g.add_argument("--concurrency", metavar="N", type=positive_int, default=d(10),
                   help="connections (open loop) or users (closed loop) (default: 10)")
    g.add_argument("--duration-seconds", metavar="S", type=positive_float, default=d(60.0),
                   help="how long to send load (default: 60)")
    g.add_argument("--processes", metavar="N", type=positive_int, default=d(1),
                   help="generator processes; histograms are merged exactly (default: 1)")
    g.add_argument("--json", action="store_true", default=d(False),
                   help="print the report object (schema mcpperf/1) on stdout")
    return p
