"""A user project gets the seed's stress and memory scenarios from the plugin's own
`stress_check` and `memory_series` fixtures: no conftest, no copied code, the bundled
server, a second or two each."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

ITS_TESTS = """
    import pytest

    from pytest_mcpperf.analysis.stress import ProbePolicy

    QUICK = ProbePolicy(baseline_intervals=1, hold_intervals=1, timeout_s=10.0,
                        interval_s=0.5)


    @pytest.mark.load(pattern="concurrent", users=4, concurrency=4, duration=1,
                      tool="cpu_intensive", arguments={"size": 100}, timeout=30)
    def test_cpu_stress(perf_client, stress_check):
        result = stress_check(lambda: perf_client.run(), policy=QUICK)
        assert result.stress.server_alive
        assert result.stress.recovery_s is not None and result.stress.recovery_s < 30
        assert result.stress.reliability_percent >= 99
        assert result.requests.ok > 0


    @pytest.mark.load(pattern="throughput", rate=200, duration=1, tool="fast_compute",
                      arguments={"input": 5})
    def test_memory_per_request(perf_client, memory_series):
        result = memory_series(perf_client.spec(), chunks=4)
        assert result.memory.samples == 5
        assert result.memory.verdict in ("stable", "moderate", "leak")
        assert result.requests.ok == 200
"""


def test_stress_and_memory_scenarios_with_the_shipped_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_its_scenarios=ITS_TESTS)
    result = pytester.runpytest_subprocess(
        "--perf-report=json:r.json", "-p", "no:cacheprovider", timeout=120
    )
    result.assert_outcomes(passed=2)
    results = json.loads((pytester.path / "r.json").read_text())["results"]
    by_test = {r["nodeid"].rsplit("::", 1)[-1]: r for r in results}
    assert set(by_test) == {"test_cpu_stress", "test_memory_per_request"}
    assert by_test["test_cpu_stress"]["stress"]["grade"] == "EXCELLENT"
    assert by_test["test_memory_per_request"]["memory"]["verdict"]
