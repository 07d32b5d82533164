"""The open-loop dispatcher on its own: never early, lateness bounded and measured, and
a plan too fast to send is counted, not materialised. The requests go nowhere (a stub
replaces the network), so these figures are the dispatcher's alone."""

from __future__ import annotations

import asyncio
import time

import pytest

from pytest_mcpperf.engine import generator
from pytest_mcpperf.engine.generator import Generator, _User
from pytest_mcpperf.engine.loop import run_coroutine
from pytest_mcpperf.engine.mcp import Outcome
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.vocabulary import OK


class StubGenerator(Generator):
    """A generator whose requests take `service_s` and touch no network."""

    def __init__(self, spec: LoadSpec, service_s: float = 0.0002) -> None:
        super().__init__(spec, (0, 1), None)
        self.service_s = service_s
        self.sends: list[tuple[float, float]] = []  # (actual, intended)
        self.users = [_User(session=None, conn=None) for _ in range(spec.concurrency)]  # type: ignore[arg-type]

    async def _one(self, user: _User, intended: float, index: int) -> Outcome:
        self.sends.append((self.clock(), intended))
        if intended >= self.measure_from:
            self.recorder.sent()
        await asyncio.sleep(self.service_s)
        return Outcome(OK, "")


def _run(spec: LoadSpec, service_s: float = 0.0002) -> StubGenerator:
    gen = StubGenerator(spec, service_s)
    run_coroutine(gen.run())
    return gen


@pytest.mark.parametrize("rate", [500.0, 4000.0])
def test_sends_are_never_early_and_lateness_is_bounded(rate: float) -> None:
    """The bias the design allows: a send is late by at most the dispatch window (at most
    1 ms) plus the loop's wake-up delay; never early."""
    spec = LoadSpec(url="http://127.0.0.1:9/mcp", rate=rate, duration_s=1.0, concurrency=8)
    gen = _run(spec)
    assert len(gen.sends) == int(rate)
    early = [intended - actual for actual, intended in gen.sends if actual < intended]
    assert early == []
    late = gen.check.dispatch_lateness
    window_us = generator.dispatch_window_s(rate) * 1e6
    assert late.get_total_count() + gen.check.queue_wait.get_total_count() == int(rate)
    # p99 within the window plus 20 ms of wake-up delay on a shared 2-core host (quiet,
    # it is well under 1 ms: benchmarks/open_loop_cost.py)
    assert late.get_value_at_percentile(99.0) <= window_us + 20_000, late.get_max_value()
    assert late.get_value_at_percentile(50.0) <= window_us + 500
    assert gen.check.timer == "timerfd"


def test_a_rate_beyond_reach_is_counted_not_materialised() -> None:
    """1e9 requests/s for 1 s with a 0.5 s timeout: the run ends on time, and every
    scheduled request is either sent or counted as a timeout never sent."""
    spec = LoadSpec(
        url="http://127.0.0.1:9/mcp", rate=1e9, duration_s=1.0, concurrency=4, timeout_s=0.5
    )
    t = time.perf_counter()
    gen = _run(spec, service_s=0.0)
    elapsed = time.perf_counter() - t
    st = gen.recorder.stats
    not_sent = st.errors["timeout"].get("not_sent", 0)
    assert elapsed < 1.0 + 0.5 + generator.DRAIN_GRACE_S + 0.5
    assert st.scheduled == 1_000_000_000
    assert st.scheduled == st.sent + not_sent
    assert st.sent < 1_000_000


def test_expired_requests_are_tallied_per_tool() -> None:
    spec = LoadSpec(
        url="http://127.0.0.1:9/mcp", rate=1e6, duration_s=0.3, concurrency=1, timeout_s=0.05
    )
    gen = _run(spec, service_s=0.0)
    st = gen.recorder.stats
    assert sum(t.failed for t in st.tools.values()) == st.errors["timeout"]["not_sent"]


class EndingGenerator(StubGenerator):
    """The run's end (or Ctrl-C) cancels every worker right after the timer handed
    requests over, before the woken workers ran: the race the run's end can meet."""

    def __init__(self, spec: LoadSpec, after: int) -> None:
        super().__init__(spec, service_s=0.002)
        self.after, self.ended = after, False

    def _on_timer(self) -> None:
        super()._on_timer()
        if not self.ended and self.check.dispatched + len(self.sends) >= self.after:
            self.ended = True
            for task in asyncio.all_tasks():
                if task.get_coro().__qualname__ == "Generator._worker":  # type: ignore[union-attr]
                    task.cancel()


@pytest.mark.parametrize("warmup_s", [0.0, 0.1])
def test_every_scheduled_request_is_sent_or_counted_when_workers_are_cancelled(
    warmup_s: float,
) -> None:
    """scheduled == sent + not_sent exactly, whatever the moment the run ends: requests
    handed to a worker that is cancelled before it ran count as not sent; those in flight
    count as sent; the rest of the plan counts as not sent."""
    spec = LoadSpec(
        url="http://127.0.0.1:9/mcp",
        rate=2000.0,
        duration_s=0.4,
        warmup_s=warmup_s,
        concurrency=16,
        timeout_s=1.0,
    )
    gen = EndingGenerator(spec, after=int(2000 * (warmup_s + 0.1)))
    run_coroutine(gen.run())
    st = gen.recorder.stats
    assert gen.ended
    not_sent = st.errors["timeout"].get("not_sent", 0)
    assert st.scheduled == 800
    assert st.sent > 0
    assert not_sent > 0
    assert st.scheduled == st.sent + not_sent


class BrokenGenerator(StubGenerator):
    """Its 5th request hits a fault of the generator itself (not a request's outcome)."""

    async def _one(self, user: _User, intended: float, index: int) -> Outcome:
        if len(self.sends) == 4:
            raise RuntimeError("a bug in the generator")
        return await super()._one(user, intended, index)


def test_a_worker_ended_by_a_fault_of_the_generator_stops_the_run_and_says_so() -> None:
    spec = LoadSpec(url="http://127.0.0.1:9/mcp", rate=100.0, duration_s=5.0, concurrency=4)
    gen = BrokenGenerator(spec)
    t = time.perf_counter()
    with pytest.raises(RuntimeError, match="a bug in the generator"):
        run_coroutine(gen.run())
    assert time.perf_counter() - t < 2.0  # at once, not at the run's planned end
