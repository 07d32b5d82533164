"""The seed's stress scenarios: memory and CPU exhaustion, connection flooding, error
recovery, chaos.

Each one probes the server lightly for a baseline, stresses it, then probes until p99 and
error rate are back within the baseline's range. Criteria (seed): the server stays up,
recovers in < 30 s; reliability (successes among the requests expected to succeed,
deliberate faults apart) is graded >= 99 EXCELLENT, >= 95 GOOD, >= 90 MODERATE, POOR.
"""

from __future__ import annotations

import asyncio

import pytest

from pytest_mcpperf import LoadResult, assert_recovery
from pytest_mcpperf.analysis.stress import CHAOS_MIX, FAULT_MIX, FAULT_TIMEOUT_S

pytestmark = pytest.mark.needs_tools("fast_compute")


def survived(result: LoadResult, min_reliability: float | None = None) -> None:
    """The seed's stress criteria, through the public helpers."""
    __tracebackhide__ = True
    stress = result.stress
    assert stress.server_alive, "the server died under stress"
    assert_recovery(result, max_seconds=30)
    if min_reliability is not None:
        assert stress.reliability_percent >= min_reliability, (
            f"reliability {stress.reliability_percent:.2f}% ({stress.grade}) is below "
            f"{min_reliability}%: see result.stress.expected for the failures by class"
        )


@pytest.mark.needs_tools("memory_allocate")
@pytest.mark.parametrize("mb_size", [10, 50])
@pytest.mark.load(
    pattern="concurrent", users=8, concurrency=8, duration=3, tool="memory_allocate", timeout=30
)
def test_memory_exhaustion(perf_client, stress_check, mb_size: int) -> None:
    """Concurrent allocations; past its budget the server must refuse, not fall over."""
    result = stress_check(lambda: perf_client.run(arguments={"mb_size": mb_size}))
    survived(result)


@pytest.mark.needs_tools("cpu_intensive")
@pytest.mark.parametrize("size", [100, 1000])
@pytest.mark.load(
    pattern="concurrent", users=16, concurrency=16, duration=3, tool="cpu_intensive", timeout=30
)
def test_cpu_exhaustion(perf_client, stress_check, size: int) -> None:
    """CPU work runs off the event loop: everything still answers, and quickly after."""
    result = stress_check(lambda: perf_client.run(arguments={"size": size}))
    survived(result, min_reliability=99)


@pytest.mark.load(
    pattern="throughput",
    rate=1500,
    duration=3,
    concurrency=500,
    tool="fast_compute",
    arguments={"input": 5},
    timeout=10,
)
def test_connection_flooding(perf_client, stress_check) -> None:
    """500 connections opened at once, then more offered load than the server serves."""
    result = stress_check(lambda: perf_client.run())
    survived(result)


@pytest.mark.needs_tools("error_simulation")
@pytest.mark.load(
    pattern="concurrent",
    users=10,
    concurrency=10,
    duration=3,
    mix=[(c.tool, dict(c.arguments), c.weight) for c in FAULT_MIX],
    timeout=FAULT_TIMEOUT_S,
)
def test_error_recovery(perf_client, stress_check) -> None:
    """Only deliberate faults (invalid, protocol, internal, timeout, disconnect, overload):
    the server must stay up and be healthy again right after."""
    result = stress_check(lambda: perf_client.run())
    survived(result)
    assert result.requests.failed > 0, "error_simulation produced no errors at all"


@pytest.mark.needs_tools(
    "error_simulation", "async_io", "cpu_intensive", "memory_allocate", "session_counter"
)
@pytest.mark.parametrize("error_rate_percent", [10, 50])
@pytest.mark.load(
    pattern="throughput",
    duration=3,
    timeout=10,
    concurrency=10,
    mix=[(c.tool, dict(c.arguments), c.weight) for c in CHAOS_MIX],
)
def test_chaos(perf_client, stress_check, error_rate_percent: int) -> None:
    """A weighted mix of tools at 200 rps, `error_rate_percent` of the requests deliberate
    faults sent alongside; the ordinary calls must still succeed (>= 99 %, EXCELLENT)."""
    rate = 200.0
    faults = [(c.tool, dict(c.arguments), c.weight) for c in FAULT_MIX]

    async def both() -> list[LoadResult]:
        return list(
            await asyncio.gather(
                perf_client.arun(rate=rate * (100 - error_rate_percent) / 100),
                perf_client.arun(
                    rate=rate * error_rate_percent / 100,
                    concurrency=20,
                    mix=faults,
                    timeout=FAULT_TIMEOUT_S,
                    thresholds=[],
                ),
            )
        )

    result = stress_check(lambda: asyncio.run(both()))
    survived(result, min_reliability=99)
    assert result.stress.deliberate["failed"] > 0
