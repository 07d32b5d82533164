"""One generator: the sessions, connections, dispatcher and workers of one process.

Timing rules: request *i* is due at t0 + offset_i; its latency counts from that intended
time even when it waited for the dispatcher or a free connection; service time counts
from the actual send. A request's deadline is its intended time + `timeout_s`; a request
whose deadline passed before any connection was free is a timeout without being sent.
Nothing is retried.

Patterns: throughput / latency / stress / soak are open loop at `rate` (`arrival`
constant or poisson), burst sends `burst_size` every `burst_interval_s`, ramp goes from
`rate` to `ramp_to`, concurrent is the closed loop of `users`. A multi-stage open-loop
plan comes from `spec.extra["stages"] = [{"rate": R, "duration_s": D}, ...]`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_mcpperf.engine import accuracy, journey, schedule, timer
from pytest_mcpperf.engine.control import preflight
from pytest_mcpperf.engine.mcp import (
    McpAuthError,
    McpError,
    McpSession,
    Outcome,
    classify,
    resumable,
    transport_outcome,
)
from pytest_mcpperf.engine.report import ShardResult
from pytest_mcpperf.engine.stats import Recorder
from pytest_mcpperf.engine.wire import Link, transport_for
from pytest_mcpperf.engine.workload import Workload
from pytest_mcpperf.errors import ConfigError, RequestError, TargetError, TransportError
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.vocabulary import (
    CLASS_NAMES,
    HTTP_ERROR,
    JOURNEY,
    OK,
    TIMEOUT,
    TRANSPORT,
    option,
)

Clock = Callable[[], float]
DRAIN_GRACE_S = 1.0
# The dispatcher wakes on a grid of `window` seconds and hands over everything due by
# then: window = DISPATCH_BATCH / rate, at least DISPATCH_WINDOW_MIN_S; where that passes
# DISPATCH_WINDOW_MAX_S (below 2,000 requests/s) there is no grid, one wake-up per due
# time. Each wake-up costs about as much CPU as a request or more (on the 2-core VM this
# was measured on, a sleep and wake-up cost 50-150 us of the process's CPU), so a
# wake-up per request doubles the cost of a request or worse. Measured against
# nginx-mcp at 25,000 requests/s: a 0.08 ms window (2 per wake-up) cost 40 us/request,
# a 0.2 ms one 31-37 us. The price is lateness, uniform in [0, window) plus the
# wake-up's own delay, measured per send and charged to latency (README, "Dispatch
# lateness": at most 2 ms at p99; about 0.1 ms at p50 from 10,000 requests/s up).
DISPATCH_BATCH = 2.0
DISPATCH_WINDOW_MIN_S = 0.0002
WORKER_YIELD_EVERY = 32
DISPATCH_WINDOW_MAX_S = 0.001
TICKING_SPAN = 4  # windows: a shorter gap to the next due request keeps the timer ticking
CLOSED_LOOP_ERROR_PAUSE_S = 0.01  # a dead server must not make users spin
SETUP_ATTEMPTS = 3  # handshakes (not measured) survive a reset or two
SETUP_RETRY_PAUSE_S = 0.05


@dataclass(frozen=True)
class ProgressUpdate:
    """About once a second while a run goes on."""

    elapsed_s: float
    sent: int
    ok: int
    failed: int
    rps: float
    #: the last second's p99 latency; over several processes the largest of theirs,
    #: an upper bound of the merged p99 (exact merging waits for the run's end)
    p99_ms: float = 0.0


ProgressFn = Callable[[ProgressUpdate], None]


def dispatch_window_s(rate: float) -> float:
    """How far apart the dispatcher's wake-ups may be at `rate` requests/s."""
    if rate <= 0:
        return 0.0
    window = DISPATCH_BATCH / rate
    if window > DISPATCH_WINDOW_MAX_S:
        # Below DISPATCH_BATCH / DISPATCH_WINDOW_MAX_S requests/s a grid would save few
        # wake-ups (most windows hold one request or none) and only add lateness: one
        # precise wake-up per due time.
        return 0.0
    return max(DISPATCH_WINDOW_MIN_S, window)


def build_plan(spec: LoadSpec) -> schedule.Plan:
    """The open-loop plan of `spec`, warmup included in front."""
    d = spec.duration_s + spec.warmup_s
    stages = spec.extra.get("stages") if spec.extra else None
    if stages:
        plan: schedule.Plan = schedule.Stages(
            [schedule.Constant(float(s["rate"]), float(s["duration_s"])) for s in stages]
        )
    elif spec.pattern == "burst":
        plan = schedule.Burst(spec.burst_size, spec.burst_interval_s, d)
    elif spec.pattern == "ramp":
        plan = schedule.Ramp(spec.rate, spec.ramp_to if spec.ramp_to is not None else spec.rate, d)
    elif spec.arrival == "poisson":
        plan = schedule.Poisson(spec.rate, d, spec.seed)
    else:
        plan = schedule.Constant(spec.rate, d)
    return plan


async def generate(
    spec: LoadSpec,
    *,
    shard: tuple[int, int] = (0, 1),
    progress: ProgressFn | None = None,
    ready: Callable[[], Awaitable[float | None]] | None = None,
) -> ShardResult:
    """Run one generator's share of `spec` in the running loop.

    `ready`, when given, is awaited once the sessions are open; it returns the wall
    time (time.time()) at which to start, so several processes start together.
    """
    gen = Generator(spec, shard, progress)
    try:
        await gen.open()
        start_at = await ready() if ready is not None else None
        if start_at is not None:
            await asyncio.sleep(max(0.0, start_at - time.time()))
        await gen.run()
    finally:
        await gen.close()
    return gen.result()


@dataclass
class _User:
    session: McpSession
    conn: Link | None
    calls: list[int] = field(default_factory=list)


class Generator:
    """One generator: sessions, connections, dispatcher, workers, recorder, self-check."""

    def __init__(
        self,
        spec: LoadSpec,
        shard: tuple[int, int],
        progress: ProgressFn | None,
        clock: Clock = time.perf_counter,
    ) -> None:
        self.spec = spec
        self.shard_index, self.shard_count = shard
        self.progress = progress
        self.clock = clock
        self.transport = transport_for(spec)
        self.workload = Workload(spec.workload(), spec.seed)
        self.closed_loop = spec.closed_loop
        self.recorder = Recorder(self.workload.tools)
        self.limits = accuracy.Limits()
        self.check = accuracy.SelfCheck()
        self.users: list[_User] = []
        self.active_users = 0
        self.t0 = 0.0
        self.measure_from = 0.0
        self.last_done = 0.0
        self.last_dispatch = 0.0
        self.target: dict[str, Any] = {}
        # open-loop dispatch state (see _open_loop)
        self.cursor = schedule.ShardCursor(schedule.Constant(0.0, 0.0).cursor())
        self.parked: collections.deque[asyncio.Future[tuple[float, int] | None]] = (
            collections.deque()
        )
        self.armed_at: float | None = None
        self.ticking = False  # the timer ticks every window by itself
        self.idle_ticks = 0
        self.window_s = 0.0
        self.late_us_limit = int(self.limits.late_ms * 1000.0)
        self.lateness_us: list[int] = []
        self.wait_us: list[int] = []

    # -- setup / teardown ---------------------------------------------------------
    async def open(self) -> None:
        n_sessions = (
            schedule.shard_users(self.spec.users, self.shard_index, self.shard_count)
            if self.closed_loop and self.spec.pattern != JOURNEY  # journeys open their own
            else 1
        )
        n_conns = (
            n_sessions
            if self.closed_loop
            else max(
                1, schedule.shard_users(self.spec.concurrency, self.shard_index, self.shard_count)
            )
        )
        self.active_users = n_sessions  # a shard may get no closed-loop user at all
        first = await self._open_session()
        self.users.append(first)
        if first.conn is not None and self.spec.extra.get("preflight", True):
            await preflight(first.session, first.conn, self.workload.calls, self.spec.front_end)
        rest = await asyncio.gather(
            *(self._open_session() for _ in range(n_sessions - 1)), return_exceptions=True
        )
        self.users.extend(u for u in rest if isinstance(u, _User))
        for u in rest:
            if isinstance(u, BaseException):
                raise u
        if not self.closed_loop:
            extra = await asyncio.gather(*(self._connect() for _ in range(n_conns - 1)))
            self.users.extend(_User(first.session, c, first.calls) for c in extra)
        s = first.session
        self.target = {
            "url": self.spec.url,
            "pid": self.spec.server_pid,
            "protocol_version": s.protocol_version,
            "era": s.era,
            "server_info": s.server_info,
            "transport": self.spec.transport,
        }

    async def _open_session(self) -> _User:
        try:
            session = McpSession(
                self.transport,
                protocol=self.spec.protocol,
                timeout_s=min(self.spec.timeout_s, 30.0),
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        try:
            conn = await self._handshake(session)
        except McpAuthError as exc:
            fe = self.spec.front_end
            raise TargetError(
                f"cannot start an MCP session with {self.spec.url}: {exc}; send the "
                f"credentials it expects with {option(fe, 'header')}, e.g. "
                f'{option(fe, "header")} "Authorization: Bearer ${{MCP_TOKEN}}" with '
                "MCP_TOKEN exported"
            ) from None
        except (RequestError, McpError) as exc:
            raise TargetError(
                f"cannot start an MCP session with {self.spec.url}: {exc}; "
                "check that the server is running and the URL is its MCP "
                "endpoint"
            ) from exc
        self.recorder.stats.connections_opened += 1
        calls = [session.add_request(*c.request()) for c in self.workload.calls]
        return _User(session, conn, calls)

    async def _handshake(self, session: McpSession) -> Link:
        """Open `session`; a connection that breaks mid-handshake is tried again.

        Setup is not measured, so this is no hidden retry of a counted request: one reset
        while 100 users shake hands must not abort the run. A server that keeps failing
        (or answers the handshake with an error) still stops it.
        """
        for attempt in range(SETUP_ATTEMPTS):
            try:
                return await session.open()
            except TransportError as exc:
                if exc.code not in ("reset", "closed") or attempt == SETUP_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(SETUP_RETRY_PAUSE_S * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self) -> Link:
        try:
            conn = await self.transport.connect(10.0)
        except RequestError as exc:
            raise TargetError(f"cannot connect to {self.spec.url}: {exc}") from exc
        self.recorder.stats.connections_opened += 1
        return conn

    async def close(self) -> None:
        sessions = {id(u.session): u for u in self.users}
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                asyncio.gather(*(u.session.close(u.conn) for u in sessions.values())), 5.0
            )
        for u in self.users:
            if u.conn is not None:
                u.conn.close()
        self.recorder.stats.reinits = sum(u.session.reinits for u in sessions.values())
        counters = getattr(self.transport, "counters", None)
        if counters is not None:
            self.target["stdio"] = counters()

    # -- the run ------------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        gc_tracker = accuracy.GcTracker(self.clock)
        gc_tracker.install()
        cpu = accuracy.CpuMeter(self.clock, time.process_time)
        host = accuracy.HostCpuMeter()
        open_loop = self.spec.pattern != JOURNEY and not self.closed_loop
        plan = self._prepare_open_loop() if open_loop else None
        # The schedule starts now, after the setup above: a request due at t0 is not
        # made late by the generator's own preparations.
        self.t0 = self.clock()
        self.measure_from = self.t0 + self.spec.warmup_s
        self.last_done = self.last_dispatch = self.measure_from
        ticker = loop.create_task(self._ticker())
        lag = loop.create_task(self._lag_probe())
        try:
            if plan is not None:
                await self._open_loop(plan)
                # The run lasts the duration asked for even when its plan's last request
                # is answered early (a burst, a Poisson tail): its window, and the host's
                # and the server's figures, cover that duration, not the burst alone.
                rest = self.measure_from + self.spec.duration_s - self.clock()
                if rest > 0:
                    # The loop keeps its timers in whole ms and may fire one up to 1 ms
                    # early: rounded up, plus 1 ms, the run never ends short.
                    await asyncio.sleep(math.ceil(rest * 1e3) / 1e3 + 1e-3)
            elif self.spec.pattern == JOURNEY:
                await journey.run(self, self.users[0].session.era)
            else:
                await self._closed_loop()
        finally:
            gc_tracker.remove()
            ticker.cancel()
            lag.cancel()
        plan_end = self.measure_from + self.spec.duration_s
        end = max(self.last_done, plan_end)
        self.check.window_s = max(1e-9, min(end, self.clock()) - self.measure_from)
        send_end = max(self.last_dispatch, plan_end)
        self.check.send_window_s = max(1e-9, min(send_end, self.clock()) - self.measure_from)
        self.check.gc_total_s, self.check.gc_max_s = gc_tracker.total_s, gc_tracker.max_s
        self.check.cpu_percent = [cpu.percent()]
        self.check.host_busy_percent = host.percent()
        self.check.host_steal_percent = host.steal_percent()
        self.check.host_cpus = accuracy.host_cpus()
        self.recorder.roll()
        if self.closed_loop:  # nothing is scheduled ahead: what was tried is scheduled
            self.recorder.stats.scheduled = self.recorder.stats.sent + self.check.not_sent

    async def _ticker(self) -> None:
        k = 0
        prev_ok = 0
        await asyncio.sleep(max(0.0, self.measure_from - self.clock()))
        while True:
            k += 1
            await asyncio.sleep(max(0.0, self.measure_from + k - self.clock()))
            self.recorder.roll(k)
            self._fold_lateness()
            if self.progress is not None:
                st = self.recorder.stats
                ok = st.ok
                self.progress(
                    ProgressUpdate(
                        self.clock() - self.t0,
                        st.sent,
                        ok,
                        st.failed,
                        float(ok - prev_ok),
                        self.recorder.last_p99_ms(),
                    )
                )
                prev_ok = ok

    async def _lag_probe(self, interval: float = 0.01) -> None:
        tracker = accuracy.LagTracker()
        self.check.lag = tracker.hist
        while True:
            expected = self.clock() + interval
            await asyncio.sleep(interval)
            tracker.observe(expected, self.clock())

    # -- open loop ----------------------------------------------------------------------
    #
    # Workers pull: a worker that finishes takes the next request at once if it is due
    # (no hand-off, no timer: the closed loop's cost); a worker with nothing due parks,
    # and one precise timer (engine.timer) wakes at the next due time and hands every
    # request due by then to the parked workers. Nothing is ever sent early. Requests
    # that nobody could take before their deadline are skipped in one step and counted
    # as timeouts never sent, so at any target rate nothing unsent is materialised.
    # Lateness is measured per send: `dispatch_lateness` for a parked worker woken by
    # the timer (the dispatcher's own delay), `queue_wait` for a request that waited
    # for a free connection (the server pushing back). Both count in latency.
    def _prepare_open_loop(self) -> schedule.Plan:
        """The plan, cursor and timer, made before the schedule's clock starts."""
        plan = build_plan(self.spec)
        self.check.target_rps = plan.target_rps / self.shard_count
        self.window_s = dispatch_window_s(self.check.target_rps)
        self.cursor = schedule.ShardCursor(plan.cursor(), self.shard_index, self.shard_count)
        self.loop = asyncio.get_running_loop()
        self.wake = timer.make_timer(self.loop, self._on_timer, self.clock)
        self.check.timer = self.wake.kind
        return plan

    async def _open_loop(self, plan: schedule.Plan) -> None:
        loop = self.loop
        workers = [loop.create_task(self._worker(u)) for u in self.users]
        try:
            limit = self.t0 + plan.duration_s + self.spec.timeout_s + DRAIN_GRACE_S
            _, pending = await asyncio.wait(
                workers,
                timeout=max(0.0, limit - self.clock()),
                return_when=asyncio.FIRST_EXCEPTION,
            )
            for w in pending:
                w.cancel()
            ends = await asyncio.gather(*workers, return_exceptions=True)
        finally:
            self.wake.close()
            for fut in self.parked:
                if not fut.done():
                    fut.set_result(None)
            self.parked.clear()
        # Requests fail as classified outcomes; anything else that ended a worker is a
        # fault of the generator: said at once, not left to shrink the pool unseen.
        for end in ends:
            if isinstance(end, Exception):
                raise end
        self._expire(math.inf)  # what the run never reached: counted as not sent
        self._fold_lateness()

    async def _worker(self, user: _User) -> None:
        n = 0
        while True:
            item = self._take_due()
            if item is None:
                if self.cursor.peek() is None:
                    return
                handover = self._park()
                try:
                    item = await handover
                except asyncio.CancelledError:
                    self._handover_lost(handover)
                    raise
                if item is None:
                    return
            await self._one(user, item[0], item[1])
            n += 1
            if n % WORKER_YIELD_EVERY == 0:
                # A request can end without waiting (due at its deadline: never sent), and
                # a backlog hands the next one over at once: let the loop breathe.
                await asyncio.sleep(0)

    def _take_due(self) -> tuple[float, int] | None:
        """The next request if it is due now (a free worker takes it without waiting)."""
        offset = self.cursor.peek()
        if offset is None:
            return None
        now = self.clock()
        due = self.t0 + offset
        if due > now:
            return None
        if due + self.spec.timeout_s <= now:
            self._expire(now - self.spec.timeout_s)
            offset = self.cursor.peek()
            if offset is None or self.t0 + offset > now:
                return None
            due = self.t0 + offset
        index = self.cursor.take()
        self._account(due, now, woken=False)
        return due, index

    def _park(self) -> asyncio.Future[tuple[float, int] | None]:
        fut: asyncio.Future[tuple[float, int] | None] = self.loop.create_future()
        self.parked.append(fut)
        self._arm()
        return fut

    def _arm(self) -> None:
        """Set the timer for the next due request (or release every parked worker).

        While requests come at least every TICKING_SPAN windows, the timer ticks on the
        window grid by itself (a periodic timerfd: no system call per wake-up); a longer
        gap arms it once, at the first grid point at or after the next due time.
        """
        offset = self.cursor.peek()
        if offset is None:
            while self.parked:
                fut = self.parked.popleft()
                if not fut.done():
                    fut.set_result(None)
            if self.ticking:
                self.ticking = False
                self.wake.stop()
            return
        if self.ticking:
            return  # the next tick comes within a window
        due = self.t0 + offset
        w = self.window_s
        if w > 0:  # the first grid point at or after `due`
            due = self.t0 + math.ceil(offset / w - 1e-9) * w
            due = max(due, self.t0 + offset)
            if due - self.clock() <= TICKING_SPAN * w:
                self.ticking, self.armed_at = True, None
                self.wake.at(due, w)
                return
        if self.armed_at != due:
            self.armed_at = due
            self.wake.at(due)

    def _on_timer(self) -> None:
        """Hand every request due by now to a parked worker; re-arm for the next."""
        self.armed_at = None
        now = self.clock()
        if not self.parked:  # every worker is busy: they take what is due themselves
            self.idle_ticks += 1
            if self.ticking and self.idle_ticks >= TICKING_SPAN:
                self.ticking = False
                self.wake.stop()
            return
        self.idle_ticks = 0
        parked, cursor, t0, timeout = self.parked, self.cursor, self.t0, self.spec.timeout_s
        while parked:
            offset = cursor.peek()
            if offset is None:
                break
            due = t0 + offset
            if due > now:  # woke before it was due (a loop timer): wait again
                break
            if due + timeout <= now:
                self._expire(now - timeout)
                continue
            fut = parked.popleft()
            if fut.done():
                continue
            index = cursor.take()
            self._account(due, now, woken=True)
            fut.set_result((due, index))
        if parked:
            if self.ticking:
                offset = cursor.peek()
                if offset is None or t0 + offset - now > TICKING_SPAN * self.window_s:
                    self.ticking = False  # a long gap: one wake-up at its end
                    self.wake.stop()
            self._arm()

    def _handover_lost(self, handover: asyncio.Future[tuple[float, int] | None]) -> None:
        """A parked worker was cancelled (the run's end, Ctrl-C): a request the timer had
        already handed to it is counted as not sent, so that every scheduled request is
        either sent or counted (scheduled == sent + not_sent, however the run ends)."""
        if handover.done() and not handover.cancelled():
            item = handover.result()
            if item is not None:
                self._not_sent(*item)

    def _not_sent(self, intended: float, index: int) -> None:
        tool = self.workload.choose(index)
        self._never_sent(tool, Outcome(TIMEOUT, "not_sent"), intended >= self.measure_from)

    def _account(self, due: float, now: float, *, woken: bool) -> None:
        if due < self.measure_from:
            return
        self.recorder.stats.scheduled += 1
        check = self.check
        check.dispatched += 1
        self.last_dispatch = now
        late_us = int((now - due) * 1e6)
        if woken:
            self.lateness_us.append(late_us)
            if late_us > self.late_us_limit:
                check.late_sends += 1
                check.max_late_ms = max(check.max_late_ms, late_us / 1000.0)
        else:
            self.wait_us.append(late_us)
            if late_us > self.late_us_limit:
                check.queued_sends += 1

    def _expire(self, before: float) -> None:
        """Skip, and count as timeouts never sent, the requests due before `before` that no
        connection took in time (cost independent of how many)."""
        cursor, t0 = self.cursor, self.t0
        if before > self.measure_from:
            cursor.skip_before(self.measure_from - t0)  # warm-up: not measured
        first, n = cursor.skip_before(before - t0)
        if n == 0 or before <= self.measure_from:
            return
        self.recorder.stats.scheduled += n
        self.check.dispatched += n
        self.check.not_sent += n
        for tool, count in enumerate(self.workload.tally(first, self.shard_count, n)):
            if count:
                self.recorder.error_many(tool, CLASS_NAMES[TIMEOUT], "not_sent", count)
        self.last_done = self.clock()

    def _fold_lateness(self) -> None:
        accuracy.record_all(self.check.dispatch_lateness, self.lateness_us)
        accuracy.record_all(self.check.queue_wait, self.wait_us)

    # -- closed loop --------------------------------------------------------------------
    async def _closed_loop(self) -> None:
        end = self.measure_from + self.spec.duration_s
        users = self.users[: self.active_users]
        await asyncio.gather(
            *(self._user_loop(u, i, end) for i, u in enumerate(users)),
            asyncio.sleep(max(0.0, end - self.clock())),
        )

    async def _user_loop(self, user: _User, number: int, end: float) -> None:
        index = (self.shard_index + number * self.shard_count) * 1_000_003
        while self.clock() < end:
            outcome = await self._one(user, self.clock(), index)
            index += 1
            if outcome.kind == TRANSPORT:
                await asyncio.sleep(CLOSED_LOOP_ERROR_PAUSE_S)

    # -- one request ----------------------------------------------------------------------
    async def _one(self, user: _User, intended: float, index: int) -> Outcome:
        """Send one tools/call and record it; never retried."""
        tool = self.workload.choose(index)
        measured = intended >= self.measure_from
        rec = self.recorder
        clock = self.clock
        session = user.session
        deadline = intended + self.spec.timeout_s
        if clock() >= deadline:
            return self._never_sent(tool, Outcome(TIMEOUT, "not_sent"), measured)
        conn = user.conn
        if conn is None or conn.closed:
            try:
                conn = user.conn = await self.transport.connect(
                    min(10.0, max(0.001, deadline - clock()))
                )
                rec.stats.connections_opened += 1
            except RequestError as exc:  # classified by its cause, and never sent
                return self._never_sent(tool, transport_outcome(exc), measured)
            except asyncio.CancelledError:  # the run ended before it could be sent
                if not self.closed_loop:
                    self._never_sent(tool, Outcome(TIMEOUT, "not_sent"), measured)
                raise
        rid = session.next_id()
        data = session.encode_call(user.calls[tool], rid)
        generation = session.generation
        loop_deadline = asyncio.get_running_loop().time() + (deadline - clock())
        t_send = clock()
        if measured:
            rec.sent()
        try:
            resp = await conn.request(data, loop_deadline)
            if resp.events is not None and resumable(resp):  # SSE ended before its answer
                conn, resp = await session.resume(conn, resp, loop_deadline)
                user.conn = conn
        except RequestError as exc:
            return self._failed(tool, transport_outcome(exc), measured)
        t_done = clock()
        outcome = classify(resp, rid)
        if outcome.kind == OK:
            if measured:
                rec.ok(tool, int((t_done - intended) * 1e6), int((t_done - t_send) * 1e6))
                self.last_done = t_done
            return outcome
        self._failed(tool, outcome, measured)
        if (
            outcome.kind == HTTP_ERROR
            and outcome.code == "404"
            and session.era == "legacy"
            and session.session_id
        ):
            user.conn = await session.reinitialize(conn, generation)
        return outcome

    def _never_sent(self, tool: int, outcome: Outcome, measured: bool) -> Outcome:
        """A request that was due but never left: failed as `outcome` and counted in
        `not_sent`, so that scheduled == sent + not_sent however it was stopped."""
        if measured:
            self.check.not_sent += 1
        return self._failed(tool, outcome, measured)

    def _failed(self, tool: int, outcome: Outcome, measured: bool) -> Outcome:
        if measured:
            self.recorder.error(tool, CLASS_NAMES[outcome.kind], outcome.code)
            self.last_done = self.clock()
        return outcome

    def result(self) -> ShardResult:
        return ShardResult(self.recorder.stats, self.check, self.target, self.check.window_s)
