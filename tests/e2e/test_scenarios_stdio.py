"""The scenario suite over stdio: the bundled server's `--stdio` mode spawned by the
plugin, its tools listed over the pipes (so `needs_tools` scenarios run), and the chaos
scenario's two loads at once over the one server's pipes. A second each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = [
    "scenarios/test_load_patterns.py::test_throughput_at_rate[100]",
    "scenarios/test_load_patterns.py::test_latency_of_async_io[10]",
    "scenarios/test_stress.py::test_chaos[10]",
]


def test_scenarios_run_over_stdio_against_the_bundled_server(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "load",
            "--perf-duration",
            "1",
            "-p",
            "no:cacheprovider",
            "-rs",
            "--mcp-transport",
            "stdio",
            "--mcp-server-cmd",
            f"{sys.executable} -m mcpperf_server --stdio",
            f"--perf-report=json:{report}",
            *SCENARIOS,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "3 passed" in run.stdout
    entries = json.loads(report.read_text())["results"]
    # the chaos scenario's two loads, at once over the one server's pipes: the ordinary
    # calls all answered, the deliberate faults all failed, no answer went astray. The
    # only answers matching no request are late ones to faults the client gave up on
    # (error_simulation timeout), counted by whichever run was reading the pipe.
    normal, faults = (r for r in entries if r["nodeid"].endswith("::test_chaos[10]"))
    assert normal["requests"]["failed"] == 0
    assert normal["requests"]["ok"] > 0
    assert faults["requests"]["failed"] > 0
    unmatched = sum(r["target"]["stdio"]["unmatched_responses"] for r in (normal, faults))
    assert unmatched <= faults["requests"]["errors"]["timeout"]
    results = {r["nodeid"].rsplit("::", 1)[-1]: r for r in entries}
    del results["test_chaos[10]"]
    assert set(results) == {"test_throughput_at_rate[100]", "test_latency_of_async_io[10]"}
    for r in results.values():
        assert r["target"]["url"] == f"stdio:{sys.executable} -m mcpperf_server --stdio"
        assert r["requests"]["failed"] == 0
        assert r["requests"]["ok"] > 0
    assert results["test_throughput_at_rate[100]"]["requests"]["ok"] == 100
    # async_io 10 ms answered in about 10 ms: the pipe adds little
    p50 = results["test_latency_of_async_io[10]"]["latency_ms"]["p50"]
    assert 10 <= p50 < 30
