"""Pure unit tests of the server's stateful pieces (injected clock, no sockets)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from mcpperf_server.config import ServerConfig
from mcpperf_server.limits import CpuPool, HostGuard, MemoryBudget
from mcpperf_server.protocol import RpcError
from mcpperf_server.sessions import CounterStore, SessionStore
from mcpperf_server.stats import Stats


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_stats_rps_is_completions_over_wall_clock() -> None:
    clock = FakeClock(10.0)
    stats = Stats(clock)
    for second, count in ((10.2, 100), (11.5, 50)):
        clock.now = second
        for _ in range(count):
            stats.begin()
            stats.end("fast_compute", 0.001, True)
    clock.now = 12.5
    assert stats.rps() == 75.0  # 150 completions over seconds 10 and 11
    assert stats.per_tool == {"fast_compute": 150}
    assert stats.in_flight == 0


def test_stats_percentiles_from_known_distribution() -> None:
    stats = Stats(FakeClock(0.0))
    for ms in range(1, 101):
        stats.begin()
        stats.end(None, ms / 1000, ms % 10 != 0)
    assert stats.percentiles_ms() == {"p50": 51.0, "p90": 91.0, "p99": 100.0, "max": 100.0}
    assert stats.errors == 10


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:8080", True),
        ("localhost", True),
        ("[::1]:9", True),
        ("evil.example", False),
        ("127.0.0.1.evil.example:80", False),
        (None, False),
    ],
)
def test_host_guard_on_loopback(host: str | None, ok: bool) -> None:
    assert HostGuard(ServerConfig()).host_ok(host) is ok


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        (None, True),
        ("http://localhost:3000", True),
        ("https://127.0.0.1", True),
        ("http://[::1]:5", True),
        ("http://evil.example", False),
        ("null", False),
        ("file://localhost", False),
        ("http://[bad", False),
    ],
)
def test_origin_guard(origin: str | None, ok: bool) -> None:
    assert HostGuard(ServerConfig()).origin_ok(origin) is ok


def test_host_guard_extra_hosts() -> None:
    guard = HostGuard(ServerConfig(extra_hosts=("mcp.internal",)))
    assert guard.host_ok("mcp.internal:8080")
    assert guard.origin_ok("http://mcp.internal")


def test_memory_budget_refuses_beyond_and_frees() -> None:
    budget = MemoryBudget(100)
    budget.acquire(60)
    with pytest.raises(RpcError) as err:
        budget.acquire(50)
    assert err.value.status == 503
    assert err.value.headers == {"Retry-After": "1"}
    budget.release(60)
    budget.acquire(100)
    assert budget.refused == 1


@pytest.mark.asyncio
async def test_cpu_pool_counts_abandoned_jobs_until_they_finish() -> None:
    pool = CpuPool(workers=1, max_queued=1)
    gate = threading.Event()
    task = asyncio.ensure_future(pool.run(lambda: gate.wait(5)))
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.sleep(0.05)
    with pytest.raises(RpcError):  # the thread still runs: the slot is still taken
        await pool.run(lambda: 1)
    gate.set()
    for _ in range(100):
        if pool.queued == 0:
            break
        await asyncio.sleep(0.01)
    assert await pool.run(lambda: 2) == 2
    pool.shutdown()


def test_session_store_cap_and_sweep() -> None:
    store = SessionStore(idle_timeout_s=0.0, max_sessions=2)
    first = store.create("2025-11-25")
    store.create("2025-11-25")
    third = store.create("2025-11-25")  # the cap sweeps the expired ones first
    assert len(store) == 1
    assert store.get(first.id) is None
    assert store.expired == 2
    assert third.id not in (first.id,)


def test_counter_store_is_bounded() -> None:
    counters = CounterStore(max_counters=2)
    assert counters.add("a", 2) == 2
    assert counters.add("a", 3) == 5
    counters.add("b", 1)
    counters.add("c", 1)  # evicts the least recently used: "a"
    assert counters.add("a", 1) == 1
