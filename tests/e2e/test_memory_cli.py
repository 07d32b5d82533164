"""`mcpperf memory ...` end to end: real servers on loopback, the real engine.

Acceptance: leak-detection tells a server that keeps 50 KiB per call ("leak", exit 1)
from the bundled server ("stable", exit 0). The leaking server is `leaky_server.py`,
built here from the standard library.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from clirun import json_report, mcpperf

from pytest_mcpperf.target import SpawnedServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LEAKY = Path(__file__).with_name("leaky_server.py")


def leaky_cmd(kib: int) -> str:
    return f"{sys.executable} {LEAKY} --port {{port}} --leak-kib {kib}"


def test_leak_detection_finds_a_server_that_keeps_50_kib_per_call() -> None:
    proc = mcpperf(
        "memory", "leak-detection", "--iterations", "1000", "--json", "--server-cmd", leaky_cmd(50)
    )
    memory = json_report(proc)["memory"]
    assert isinstance(memory, dict)
    assert memory["verdict"] == "leak", memory
    assert 45 * 1024 < memory["bytes_per_request"] < 60 * 1024
    assert proc.returncode == 1


def test_leak_detection_calls_the_same_server_without_the_leak_stable() -> None:
    proc = mcpperf(
        "memory", "leak-detection", "--iterations", "1000", "--json", "--server-cmd", leaky_cmd(0)
    )
    assert json_report(proc)["memory"]["verdict"] == "stable"
    assert proc.returncode == 0


def test_leak_detection_calls_the_bundled_server_stable() -> None:
    proc = mcpperf("memory", "leak-detection", "--iterations", "2000", "--json")
    memory = json_report(proc)["memory"]
    assert memory["verdict"] == "stable", memory
    assert proc.returncode == 0, proc.stderr


def test_baseline_prints_the_seed_blocks() -> None:
    proc = mcpperf("memory", "baseline", "--request-count", "200")
    out = proc.stdout
    assert "=== Memory Snapshot: Initial ===" in out
    assert "=== Memory Snapshot: Final ===" in out
    assert "=== Baseline Analysis ===" in out
    assert "Memory per request:" in out
    assert "Memory efficiency:" in out
    assert "Verdict: stable" in out, out
    assert proc.returncode == 0


def test_a_url_without_a_pid_says_memory_cannot_be_measured() -> None:
    with SpawnedServer(leaky_cmd(0)) as server:
        proc = mcpperf("memory", "baseline", "--server-url", server.url, timeout=30)
    assert proc.returncode == 2
    assert "memory cannot be measured" in proc.stderr
    assert "--server-pid" in proc.stderr


def test_a_url_with_its_pid_is_measured() -> None:
    with SpawnedServer(leaky_cmd(50)) as server:
        proc = mcpperf(
            "memory",
            "leak-detection",
            "--iterations",
            "600",
            "--json",
            "--server-url",
            server.url,
            "--server-pid",
            str(server.pid),
        )
    assert json_report(proc)["memory"]["verdict"] == "leak"
