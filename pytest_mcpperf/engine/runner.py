"""Run a `LoadSpec` and return its report: the engine's entry points.

`run()` is synchronous (its own event loop, uvloop when installed; from a thread whose
loop is already running it uses a helper thread); `arun()` runs inside the caller's
loop. With `spec.processes > 1` the plan is split across generator processes
(`engine.processes` starts them, `engine.worker` is their body) and their histograms
are merged exactly (`engine.report`). The server's memory and CPU are sampled around
the run when its pid is known (`spec.server_pid`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pytest_mcpperf.engine import report
from pytest_mcpperf.engine.generator import ProgressFn, ProgressUpdate, build_plan, generate
from pytest_mcpperf.engine.loop import run_sync
from pytest_mcpperf.engine.processes import run_shards
from pytest_mcpperf.engine.report import ShardResult
from pytest_mcpperf.engine.stdio import stdio_pids
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec

__all__ = ["ProgressFn", "ProgressUpdate", "ServerMonitorLike", "arun", "build_plan", "run"]


class ServerMonitorLike(Protocol):
    """What the runner needs of a server monitor (`pytest_mcpperf.monitor`)."""

    def start(self) -> object: ...

    def stop(self) -> dict[str, Any]: ...


def run(
    spec: LoadSpec, *, progress: ProgressFn | None = None, monitor: ServerMonitorLike | None = None
) -> LoadResult:
    """Run `spec` to completion and return its report as a `LoadResult`."""
    return run_sync(lambda: _measure(spec, monitor, _body(spec, progress)))


async def arun(
    spec: LoadSpec, *, progress: ProgressFn | None = None, monitor: ServerMonitorLike | None = None
) -> LoadResult:
    """Run `spec` inside the running event loop.

    One generator shares the caller's loop; several run as processes, whose parent
    side waits in an executor thread.
    """
    return await _measure(spec, monitor, _body(spec, progress))


def _body(
    spec: LoadSpec, progress: ProgressFn | None
) -> Callable[[], Awaitable[list[ShardResult]]]:
    if spec.processes > 1:
        return lambda: run_shards(spec, progress=progress)

    async def one() -> list[ShardResult]:
        return [await generate(spec, progress=progress)]

    return one


async def _measure(
    spec: LoadSpec,
    monitor: ServerMonitorLike | None,
    body: Callable[[], Awaitable[list[ShardResult]]],
) -> LoadResult:
    mon = monitor if monitor is not None else _default_monitor(spec)
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    if mon is not None:
        mon.start()
    try:
        shards = await body()
    finally:
        server = mon.stop() if mon is not None else {}
    return LoadResult(report.build(spec, shards, started_at=started_at, server=server))


def _default_monitor(spec: LoadSpec) -> ServerMonitorLike | None:
    if spec.server_pid is None:
        return None
    from pytest_mcpperf.monitor import ServerMonitor

    pids = stdio_pids(spec)  # every copy of a stdio server, started before sampling
    mon: ServerMonitorLike = ServerMonitor(pids or [spec.server_pid])
    return mon
