"""`mcpperf server`: run the bundled MCP load-test server (see `mcpperf_server`)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from mcpperf_server.__main__ import add_arguments, run_from_args

    p = sub.add_parser(
        "server",
        help="run the bundled MCP load-test server",
        description="Run the bundled MCP load-test server.",
    )
    add_arguments(p)
    p.set_defaults(func=run_from_args)
