"""`mcpperf client`: not built yet (placeholder that registers the name)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("client", parents=[common], help="(not implemented yet)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    raise SystemExit("mcpperf client: not implemented yet")
