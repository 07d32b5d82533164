"""Session journeys: the closed loop of whole MCP sessions (`pattern="journey"`).

Each virtual user repeats, until the run's duration ends:

1. `open`: a new connection and the handshake (`initialize` and
   `notifications/initialized` in the 2025-11-25 era; `server/discover` in the
   2026-07-28 era, which has no session), in the era the run's first session found;
2. `list`: `tools/list`;
3. `call`: `LoadSpec.journey_calls` requests of the workload (tool calls or any request
   kind), recorded as every other run's requests are (latency, per tool, errors);
4. `close`: `DELETE` of the session (2025-11-25 over HTTP, when the server gave a
   session id; 2xx and 405 count as success), then the connection is closed.

Every step is timed from its start (a closed loop has no schedule, so latency is
service time) and counted in the report's `journey` section: journeys completed and
per second, and per step its count, failures by class and latency percentiles. Over
stdio a session is the conversation on a server process's pipes: `open` is a new
handshake on the same process, and there is nothing to send for `close` (a stdio
session ends only with the process), so `close` stays at zero. A journey whose `open`
fails ends there; a failed `list` or call does not stop it.

This module does not import the generator (the generator calls `run`); what it needs
of one is `JourneyHost`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pytest_mcpperf.engine import schedule, stats
from pytest_mcpperf.engine.mcp import (
    McpAuthError,
    McpError,
    McpSession,
    Outcome,
    transport_outcome,
)
from pytest_mcpperf.engine.stats import Recorder
from pytest_mcpperf.engine.transport import Link, Transport
from pytest_mcpperf.engine.workload import Workload
from pytest_mcpperf.errors import RequestError
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.vocabulary import CLASS_NAMES, HTTP_ERROR, OK, PROTOCOL, RPC_ERROR

STEPS = ("open", "list", "call", "close")
ERROR_PAUSE_S = 0.01  # a dead server must not make users spin
#: A journey's calls stop at the end of the run; its close may take this long after it.
CLOSE_TIMEOUT_S = 5.0


class JourneyHost(Protocol):
    """What a journey needs of the generator that runs it (`engine.generator`)."""

    spec: LoadSpec
    transport: Transport
    recorder: Recorder
    workload: Workload
    measure_from: float
    shard_index: int
    shard_count: int
    target: dict[str, Any]
    clock: Callable[[], float]

    async def _one(self, user: Any, intended: float, index: int) -> Outcome: ...


@dataclass
class _Step:
    ok: int = 0
    errors: dict[str, dict[str, int]] = field(default_factory=dict)
    latency: Any = field(default_factory=stats.new_histogram)

    def failed(self) -> int:
        return sum(sum(codes.values()) for codes in self.errors.values())


@dataclass
class JourneyStats:
    """Per-step counts and latency histograms of one generator's journeys."""

    steps: dict[str, _Step] = field(default_factory=lambda: {s: _Step() for s in STEPS})
    journeys: int = 0  # completed: opened, and ended (closed, or nothing to close)
    failed_journeys: int = 0  # their open failed

    def ok(self, step: str, seconds: float) -> None:
        st = self.steps[step]
        st.ok += 1
        st.latency.record_value(max(1, min(int(seconds * 1e6), stats.HIGHEST_US)))

    def error(self, step: str, outcome: Outcome) -> None:
        codes = self.steps[step].errors.setdefault(CLASS_NAMES[outcome.kind], {})
        codes[outcome.code] = codes.get(outcome.code, 0) + 1

    def to_wire(self) -> dict[str, Any]:
        return {
            "journeys": self.journeys,
            "failed_journeys": self.failed_journeys,
            "steps": {
                name: {"ok": st.ok, "errors": st.errors, "latency_us": stats.encode(st.latency)}
                for name, st in self.steps.items()
            },
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> JourneyStats:
        out = cls(journeys=int(data["journeys"]), failed_journeys=int(data["failed_journeys"]))
        for name, st in data["steps"].items():
            out.steps[name] = _Step(
                int(st["ok"]),
                {c: dict(codes) for c, codes in st["errors"].items()},
                stats.decode(st["latency_us"]),
            )
        return out

    def merge(self, other: JourneyStats) -> None:
        self.journeys += other.journeys
        self.failed_journeys += other.failed_journeys
        for name, st in other.steps.items():
            mine = self.steps[name]
            mine.ok += st.ok
            stats.add_errors(mine.errors, st.errors)
            stats.merge_into(mine.latency, st.latency)


def section(parts: Sequence[Mapping[str, Any]], spec: LoadSpec, window_s: float) -> dict[str, Any]:
    """The report's `journey` section from the generators' `JourneyStats.to_wire()`s.

    `journeys`, `failed_journeys`, `journeys_per_s`, `calls_per_journey`, and `steps`:
    per step `count`, `ok`, `failed`, `errors` (by class, then code) and `latency_ms`.
    """
    total = JourneyStats()
    for part in parts:
        total.merge(JourneyStats.from_wire(part))
    steps: dict[str, Any] = {}
    for name, st in total.steps.items():
        failed = st.failed()
        steps[name] = {
            "count": st.ok + failed,
            "ok": st.ok,
            "failed": failed,
            "errors": {c: sum(codes.values()) for c, codes in st.errors.items()},
            "errors_by_code": st.errors,
            "latency_ms": stats.summary_ms(st.latency),
        }
    return {
        "journeys": total.journeys,
        "failed_journeys": total.failed_journeys,
        "journeys_per_s": round(total.journeys / window_s, 2) if window_s > 0 else 0.0,
        "calls_per_journey": spec.journey_calls,
        "steps": steps,
    }


@dataclass
class _Visit:
    """One journey's session, as `Generator._one` reads a user (session, conn, calls)."""

    session: McpSession
    conn: Link | None
    calls: list[int]


async def run(host: JourneyHost, era: str) -> None:
    """Run this generator's users' journeys until the measured duration ends; leave
    the stats in `host.target["journey"]` (plain values, merged by the report)."""
    spec = host.spec
    end = host.measure_from + spec.duration_s
    users = schedule.shard_users(spec.users, host.shard_index, host.shard_count)
    js = JourneyStats()
    protocol = era if era in ("modern", "legacy") else spec.protocol
    try:
        await asyncio.gather(
            *(_user(host, js, protocol, number, end) for number in range(users)),
            asyncio.sleep(max(0.0, end - host.clock())),
        )
    finally:
        host.target["journey"] = js.to_wire()


async def _user(
    host: JourneyHost, js: JourneyStats, protocol: str, number: int, end: float
) -> None:
    index = (host.shard_index + number * host.shard_count) * 1_000_003
    while host.clock() < end:
        index = await journey(host, js, protocol, index, end)


def _open_failure(exc: BaseException) -> Outcome:
    if isinstance(exc, RequestError):
        return transport_outcome(exc)
    if isinstance(exc, McpAuthError):
        return Outcome(HTTP_ERROR, str(exc.status))
    return Outcome(PROTOCOL, "open_failed")


async def journey(
    host: JourneyHost, js: JourneyStats, protocol: str, index: int, end: float
) -> int:
    """One journey; returns the next request index."""
    clock, spec = host.clock, host.spec
    session = McpSession(host.transport, protocol=protocol, timeout_s=min(spec.timeout_s, 30.0))
    t = clock()
    measured = t >= host.measure_from
    try:
        conn = await session.open()
    except (RequestError, McpError) as exc:
        if measured:
            js.failed_journeys += 1
            js.error("open", _open_failure(exc))
        await asyncio.sleep(ERROR_PAUSE_S)
        return index
    host.recorder.stats.connections_opened += 1
    if measured:
        js.ok("open", clock() - t)
    visit = _Visit(session, conn, [session.add_request(*c.request()) for c in host.workload.calls])
    try:
        await _list(host, js, visit, measured)
        for _ in range(spec.journey_calls):
            if clock() >= end:
                break
            t = clock()
            outcome = await host._one(visit, t, index)
            index += 1
            if t >= host.measure_from:
                if outcome.kind == OK:
                    js.ok("call", clock() - t)
                else:
                    js.error("call", outcome)
        await _close(host, js, visit, measured)
    finally:
        if visit.conn is not None:
            visit.conn.close()
    if measured:
        js.journeys += 1
    return index


async def _list(host: JourneyHost, js: JourneyStats, visit: _Visit, measured: bool) -> None:
    session, conn = visit.session, visit.conn
    params: dict[str, Any] = {"_meta": session.meta()} if session.era == "modern" else {}
    t = host.clock()
    try:
        if conn is None:
            raise AssertionError("a journey's session is open")  # pragma: no cover
        visit.conn, resp, msg = await session.rpc(conn, "tools/list", params)
    except RequestError as exc:
        if measured:
            js.error("list", transport_outcome(exc))
        return
    if not measured:
        return
    if resp.status != 200:
        js.error("list", Outcome(HTTP_ERROR, str(resp.status)))
    elif msg is None:
        js.error("list", Outcome(PROTOCOL, "no_response_for_id"))
    elif "error" in msg:
        err = msg["error"]
        js.error("list", Outcome(RPC_ERROR, str(err.get("code") if isinstance(err, dict) else "")))
    else:
        js.ok("list", host.clock() - t)


async def _close(host: JourneyHost, js: JourneyStats, visit: _Visit, measured: bool) -> None:
    """DELETE a 2025-11-25 session over HTTP; nothing to send otherwise."""
    session = visit.session
    if session.era != "legacy" or not session.session_id:
        return
    headers = {"Mcp-Session-Id": session.session_id}
    if session.protocol_version:
        headers["MCP-Protocol-Version"] = session.protocol_version
    data = host.transport.frame("DELETE", headers)
    if not data:  # a transport with no DELETE (stdio)
        return
    t = host.clock()
    conn = visit.conn
    try:
        if conn is None or conn.closed:
            conn = visit.conn = await host.transport.connect(CLOSE_TIMEOUT_S)
        loop = asyncio.get_running_loop()
        resp = await conn.request(data, loop.time() + min(host.spec.timeout_s, CLOSE_TIMEOUT_S))
    except RequestError as exc:
        if measured:
            js.error("close", transport_outcome(exc))
        return
    if not measured:
        return
    if 200 <= resp.status < 300 or resp.status == 405:  # 405: the server keeps sessions
        js.ok("close", host.clock() - t)
    else:
        js.error("close", Outcome(HTTP_ERROR, str(resp.status)))


__all__ = ["STEPS", "JourneyHost", "JourneyStats", "journey", "run", "section"]
