"""pytest baselines end to end: --perf-save, then --perf-compare, real servers.

Acceptance: save a baseline (5 repeats of a scenario against `burn_server.py` burning
10 ms per call); a run against a slower server (18 ms) then fails with the comparison in
the failure message; against the same server it passes; against a baseline from
another machine fingerprint it warns and passes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BURN = Path(__file__).with_name("burn_server.py")

SCENARIO = """
import pytest

@pytest.mark.load(rate=20, duration=1, concurrency=4, tool="fast_compute", arguments={"input": 5})
def test_calls(perf_client):
    perf_client.run()
"""


def run(pytester: pytest.Pytester, burn_ms: int, *options: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--mcp-server-cmd",
        f"{sys.executable} {BURN} --port {{port}} --burn-ms {burn_ms}",
        "--perf-repeat",
        "5",
        "--perf-baseline-dir",
        "baselines",
        *options,
        timeout=120,
    )


def test_save_then_compare(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_scenario=SCENARIO)
    saved = run(pytester, 10, "--perf-save=main")
    saved.assert_outcomes(passed=1)
    path = pytester.path / "baselines" / "main.json"
    machines = json.loads(path.read_text())["machines"]
    (machine,) = machines.values()
    assert len(machine["scenarios"]["test_scenario.py::test_calls"]) == 5

    gate = ("--perf-compare=main", "--perf-compare-fail", "p50:20%")
    slower = run(pytester, 18, *gate)
    slower.assert_outcomes(failed=1)
    out = slower.stdout.str()
    assert "mcpperf comparison of test_scenario.py::test_calls against baseline 'main'" in out
    assert "p50 slower by" in out
    assert "beyond the 20 % allowed" in out

    same = run(pytester, 10, *gate, "--perf-report=json:r.json")
    same.assert_outcomes(passed=1)
    (result,) = json.loads((pytester.path / "r.json").read_text())["results"]
    assert result["comparison"]["verdict"] != "slower" or not result["comparison"]["failed"]
    assert len(result["repeats"]) == 5
    assert set(result["spread"]) >= {"p50", "p99", "rps"}

    (key,) = machines
    machines["0" * 12] = {**machines.pop(key)}
    machines["0" * 12]["fingerprint"]["cpu_model"] = "Another CPU"
    path.write_text(json.dumps({"schema": "mcpperf-baseline/1", "machines": machines}))
    foreign = run(pytester, 18, *gate)
    foreign.assert_outcomes(passed=1, warnings=1)
    assert "saved on another machine (cpu_model 'Another CPU' there" in foreign.stdout.str()
