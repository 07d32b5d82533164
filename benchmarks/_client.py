"""`mcpperf client concurrent ... --json` as the benchmarks run it (not a benchmark itself).

Imported by the scripts beside it, which run as `python benchmarks/X.py` from the
repository root (so this folder is on the import path).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MCPPERF = [sys.executable, "-m", "pytest_mcpperf.cli"]


def client_concurrent(args: list[str], duration: int) -> dict[str, Any]:
    """The JSON report of `mcpperf client concurrent ARGS --duration-seconds DURATION`,
    run from the repository root; raises when it exits with neither 0 nor 1."""
    out = subprocess.run(
        [
            *MCPPERF,
            "client",
            "concurrent",
            *args,
            "--duration-seconds",
            str(duration),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        cwd=REPO,
        check=False,
    )
    if out.returncode not in (0, 1):
        raise RuntimeError(f"mcpperf failed ({out.returncode}):\n{out.stderr}")
    report: dict[str, Any] = json.loads(out.stdout)
    return report
