"""The bias the open-loop dispatcher allows, against a real server process: a send is
never early, and at p99 at most `STATED_P99_US` late (README, "Dispatch lateness").

Above 2,000 requests/s the dispatcher wakes on a grid of at most 1 ms
(`generator.dispatch_window_s`) and hands over everything due by then; below, it wakes
at each due time. A send is late by up to the window plus the wake-up's own delay.
Measured on a shared 2-core VM: at this test's 400 requests/s p99 0.17-0.18 ms (p999
0.4-1.8 ms); at 2,500-10,000 requests/s p99 0.5-1.1 ms (benchmarks/open_loop_cost.py).
The stated 2 ms leaves room for a busy CI host.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_mcpperf.engine import timer
from pytest_mcpperf.engine.runner import run
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import SpawnedServer

pytestmark = pytest.mark.e2e

STATED_P99_US = 2000


@pytest.fixture(scope="module")
def bundled() -> Iterator[SpawnedServer]:
    pytest.importorskip("mcpperf_server")
    with SpawnedServer(startup_timeout_s=30.0) as server:
        yield server


QUIET_STEAL_PERCENT = 3.0
QUIET_OTHER_PERCENT = 10.0


def open_loop(
    server: SpawnedServer, rate: float, duration_s: float, concurrency: int
) -> dict[str, Any]:
    """One open-loop run of `fast_compute` against `server`, as its report."""
    spec = LoadSpec(
        url=server.url,
        rate=rate,
        duration_s=duration_s,
        concurrency=concurrency,
        arguments={"input": 3},
        server_pid=server.pid,
    )
    return run(spec).to_dict()


def test_dispatch_lateness_p99_is_within_the_stated_bias(bundled: SpawnedServer) -> None:
    result = open_loop(bundled, 400.0, 2.0, 16)
    acc = result["accuracy"]
    assert result["requests"]["failed"] == 0, result["errors_by_code"]
    late = acc["dispatch_lateness_us"]
    # most sends are handed over by the timer (the rest found a worker free at their time)
    assert late["count"] + acc["queue_wait_us"]["count"] == 800
    assert late["count"] >= 400
    # latency counts from the intended time: the lateness is in it, never hidden
    assert result["latency_ms"]["p50"] >= result["service_time_ms"]["p50"]
    # The bias is stated for a quiet host: with the hypervisor stealing time or other work
    # on the CPUs (measured by the run itself), it does not apply, and the test says so.
    steal, other = acc["host_steal_percent"], acc["host_other_work_percent"]
    if acc["verdict"] == "contended" or steal > QUIET_STEAL_PERCENT or other > QUIET_OTHER_PERCENT:
        pytest.skip(
            f"the host was not quiet (steal {steal}%, other work {other}%, verdict "
            f"{acc['verdict']}): the stated bias does not apply"
        )
    assert late["p99"] <= STATED_P99_US, late


def test_the_generators_own_setup_does_not_make_the_first_requests_late(
    bundled: SpawnedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The schedule's clock starts once the dispatcher is ready: a slow setup (here a
    # timer that takes 200 ms to make) must not be charged to the first requests as
    # waiting, which would read as the server pushing back.
    made = timer.make_timer

    def slow_make_timer(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.2)
        return made(*args, **kwargs)

    monkeypatch.setattr(timer, "make_timer", slow_make_timer)
    result = open_loop(bundled, 200.0, 0.5, 4)
    assert result["requests"]["failed"] == 0, result["errors_by_code"]
    acc = result["accuracy"]
    worst_us = max(acc["queue_wait_us"]["max"], acc["dispatch_lateness_us"]["max"])
    assert worst_us < 150_000, acc
