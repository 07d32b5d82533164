"""`mcpperf memory`: not built yet (placeholder that registers the name)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("memory", parents=[common], help="(not implemented yet)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    raise SystemExit("mcpperf memory: not implemented yet")
