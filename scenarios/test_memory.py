"""The seed's memory analyses: baseline bytes per request, leak detection, growth
analysis, allocation patterns, all from the *server's* RSS (its pid), sampled at time
zero and after each chunk of requests, and judged by the least-squares slope after a
warm-up (pytest_mcpperf.analysis.memory).

Criteria (seed): < 10 % memory growth over the run; per request < 1 KB is excellent,
< 10 KB good; a verdict of `leak` fails.
"""

from __future__ import annotations

import pytest

from pytest_mcpperf import LoadResult, assert_memory_growth
from pytest_mcpperf.analysis.memory import LEAK_BYTES_PER_REQUEST

pytestmark = pytest.mark.needs_tools("fast_compute")


def no_leak(result: LoadResult) -> None:
    __tracebackhide__ = True
    memory = result.memory
    assert memory.verdict not in ("leak", "insufficient"), (
        f"memory verdict {memory.verdict}: the server kept {memory.bytes_per_request:,.0f} "
        f"bytes per request over {memory.requests} requests (a leak from 10 KiB/request "
        "above 4 MiB in all; 'insufficient' needs a longer run: --perf-duration)"
    )
    assert_memory_growth(result, max_percent=10)


@pytest.mark.load(
    pattern="throughput", rate=500, duration=2, tool="fast_compute", arguments={"input": 5}
)
def test_baseline_bytes_per_request(perf_client, memory_series) -> None:
    result = memory_series(perf_client.spec(), chunks=5)
    no_leak(result)
    assert result.memory.bytes_per_request < LEAK_BYTES_PER_REQUEST


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        pytest.param("fast_compute", {"input": 5}, id="fast_compute"),
        pytest.param(
            "session_counter",
            {"increment": 1, "counter_id": "leak"},
            marks=pytest.mark.needs_tools("session_counter"),
            id="session_counter",
        ),
    ],
)
@pytest.mark.load(pattern="throughput", rate=500, duration=4, concurrency=10)
def test_leak_detection(perf_client, memory_series, tool: str, arguments: dict[str, int]) -> None:
    result = memory_series(perf_client.spec(tool=tool, arguments=arguments), chunks=10)
    no_leak(result)


@pytest.mark.load(
    pattern="throughput", rate=250, duration=8, tool="fast_compute", arguments={"input": 5}
)
def test_growth_analysis(perf_client, memory_series) -> None:
    """Memory over time at a steady rate: the seed's < 10 % growth criterion."""
    result = memory_series(perf_client.spec(), chunks=8)
    no_leak(result)


@pytest.mark.needs_tools("memory_allocate")
@pytest.mark.parametrize("mb_size", [1, 10, 50])
@pytest.mark.load(
    pattern="throughput", rate=10, duration=2, tool="memory_allocate", concurrency=4, timeout=30
)
def test_allocation_patterns(perf_client, memory_series, mb_size: int) -> None:
    """Transient allocations are given back: what a call allocates is not retained."""
    result = memory_series(perf_client.spec(arguments={"mb_size": mb_size}), chunks=5)
    assert result.requests.ok > 0
    no_leak(result)
