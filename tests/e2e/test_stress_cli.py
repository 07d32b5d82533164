"""`mcpperf stress ...` end to end against the bundled server (real engine, loopback).

Acceptance: `mcpperf stress memory --max-concurrent 40 --mb-per-request 100` leaves the
bundled server alive, reports reliability and grade, and recovers in under 30 s.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from clirun import mcpperf

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GRADES = ("EXCELLENT", "GOOD", "MODERATE", "POOR")


def stress_of(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.stdout.lstrip().startswith("{"), proc.stdout + proc.stderr
    stress: dict[str, Any] = json.loads(proc.stdout)["stress"]
    return stress


def test_memory_stress_40_x_100_mb_server_survives_and_recovers() -> None:
    proc = mcpperf(
        "stress",
        "memory",
        "--max-concurrent",
        "40",
        "--mb-per-request",
        "100",
        "--duration-seconds",
        "5",
        "--recovery-timeout-seconds",
        "40",
        "--json",
    )
    stress = stress_of(proc)
    assert stress["server_alive"] is True
    assert stress["grade"] in GRADES
    assert 0 <= stress["reliability_percent"] <= 100
    assert stress["recovery_s"] is not None
    assert stress["recovery_s"] < 30
    assert proc.returncode == (0 if stress["passed"] else 1)


def test_memory_stress_prints_the_seed_block() -> None:
    proc = mcpperf(
        "stress",
        "memory",
        "--max-concurrent",
        "4",
        "--mb-per-request",
        "10",
        "--duration-seconds",
        "2",
        "--baseline-intervals",
        "2",
        "--hold-intervals",
        "2",
    )
    out = proc.stdout
    assert "=== Comprehensive Stress Test Results ===" in out
    assert "Request Statistics:" in out
    assert "Overall Reliability Score:" in out
    assert "Server alive: yes" in out
    assert "Recovery time:" in out
    assert proc.returncode == 0, out + proc.stderr


def test_chaos_deliberate_faults_do_not_lower_reliability() -> None:
    proc = mcpperf(
        "stress",
        "chaos",
        "--max-concurrent",
        "10",
        "--error-rate-percent",
        "50",
        "--duration-seconds",
        "3",
        "--json",
    )
    stress = stress_of(proc)
    assert stress["deliberate"]["failed"] > 0
    assert stress["reliability_percent"] >= 95, stress["expected"]
    assert stress["server_alive"] is True
