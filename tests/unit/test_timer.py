"""The dispatcher's timers: one-shot and periodic wake-ups, never before their time."""

from __future__ import annotations

import asyncio
import time

import pytest

from pytest_mcpperf.engine import timer
from pytest_mcpperf.engine.loop import run_coroutine


def _ticks(kind: str, every_s: float, count: int) -> tuple[float, list[float]]:
    async def body() -> tuple[float, list[float]]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        done = loop.create_future()

        def tick() -> None:
            fired.append(time.perf_counter())
            if len(fired) == count:
                t.stop()
                done.set_result(None)

        t: timer.Timer = (
            timer.PreciseTimer(loop, tick) if kind == "timerfd" else timer.LoopTimer(loop, tick)
        )
        start = time.perf_counter() + 0.01
        t.at(start, every_s)
        await asyncio.wait_for(done, 5.0)
        await asyncio.sleep(3 * every_s)  # stopped: no more ticks
        t.close()
        return start, fired

    return run_coroutine(body())


@pytest.mark.parametrize("kind", ["timerfd", "loop"])
def test_a_periodic_timer_ticks_on_its_grid_never_early(kind: str) -> None:
    every = 0.002
    start, fired = _ticks(kind, every, 20)
    assert len(fired) == 20
    assert fired[0] >= start
    # tick k is never before start + k*every (some ticks may be merged when the loop is
    # late, never early)
    grid = [start + k * every for k in range(20)]
    assert all(f >= g - 1e-6 for f, g in zip(fired, grid, strict=True))
    assert fired[-1] - start < 20 * every + 0.5


def test_a_one_shot_timer_fires_once() -> None:
    start, fired = _ticks("timerfd", 0.0, 1)
    assert len(fired) == 1
    assert fired[0] >= start
