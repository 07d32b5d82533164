"""The `mcpperf` command as the e2e tests run it: a subprocess of this interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def mcpperf(
    *argv: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `mcpperf ARGV...` from the repository root; never raises on its exit status."""
    return subprocess.run(
        [sys.executable, "-m", "pytest_mcpperf.cli", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
        check=False,
    )


def json_report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON report a `--json` run printed (its output in the failure otherwise)."""
    assert proc.stdout.lstrip().startswith("{"), proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data
