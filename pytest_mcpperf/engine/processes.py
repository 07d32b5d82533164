"""The parent side of generator processes: start them, start them together, merge.

Each process runs one shard of the plan (`engine.worker`); the parent starts them, waits
until every one has its sessions open, sends one common start time, relays their summed
progress, and returns their shard results in order for an exact histogram merge.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sys
import time
from collections.abc import Iterable
from typing import Any

from pytest_mcpperf.engine import worker
from pytest_mcpperf.engine.generator import ProgressFn, ProgressUpdate
from pytest_mcpperf.engine.report import ShardResult
from pytest_mcpperf.errors import TargetError
from pytest_mcpperf.spec import LoadSpec

START_DELAY_S = 0.3
READY_TIMEOUT_S = 60.0
END_GRACE_S = 30.0

Inbox = queue.Queue[tuple[int, worker.Message]]


def spawn_gateway(index: int, spec: LoadSpec) -> Any:
    """Generator process `index`: a local popen gateway, or the execnet spec given in
    `spec.extra["gateways"][index]` (e.g. "ssh=loadbox//python=python3"), which must
    have pytest-mcpperf installed."""
    import execnet

    remote = list(spec.extra.get("gateways", ())) if spec.extra else []
    if index < len(remote):
        return execnet.makegateway(str(remote[index]))
    return execnet.makegateway(f"popen//python={sys.executable}//id=mcpperf-gen-{index}")


async def run_shards(spec: LoadSpec, *, progress: ProgressFn | None = None) -> list[ShardResult]:
    """Run `spec` split across `spec.processes` generator processes."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, _run_blocking, spec, progress)


def _run_blocking(spec: LoadSpec, progress: ProgressFn | None) -> list[ShardResult]:
    n = spec.processes
    inbox: Inbox = queue.Queue()
    gateways, channels = [], []
    ended = worker.Failed("generator process ended").to_channel()
    try:
        for k in range(n):
            gw = spawn_gateway(k, spec)
            gateways.append(gw)
            ch = gw.remote_exec(worker.SOURCE)
            ch.send(worker.Job(spec, k, n).to_channel())
            ch.setcallback(
                lambda item, k=k: inbox.put((k, worker.from_channel(item))), endmarker=ended
            )
            channels.append(ch)
        return _drive(channels, inbox, progress, spec)
    finally:
        for gw in gateways:
            with contextlib.suppress(Exception):
                gw.exit()


def _drive(
    channels: list[Any], inbox: Inbox, progress: ProgressFn | None, spec: LoadSpec
) -> list[ShardResult]:
    n = len(channels)
    ready: set[int] = set()
    while len(ready) < n:
        k, msg = _next(inbox, READY_TIMEOUT_S, "ready")
        if not isinstance(msg, worker.Ready):
            _raise(msg)
        ready.add(k)
    start = worker.Start(time.time() + START_DELAY_S).to_channel()
    for ch in channels:
        ch.send(start)
    results: dict[int, ShardResult] = {}
    latest: dict[int, ProgressUpdate] = {}
    budget = START_DELAY_S + spec.warmup_s + spec.duration_s + spec.timeout_s + END_GRACE_S
    hard_end = time.monotonic() + budget
    while len(results) < n:
        k, msg = _next(inbox, max(0.1, hard_end - time.monotonic()), "finished")
        if isinstance(msg, worker.Progress):
            latest[k] = msg.update
            if progress is not None and len(latest) == n:
                progress(sum_progress(latest.values()))
                latest.clear()
        elif isinstance(msg, worker.Done):
            results[k] = msg.result
        elif k not in results:
            _raise(msg)
    return [results[k] for k in range(n)]


def _next(inbox: Inbox, timeout: float, what: str) -> tuple[int, worker.Message]:
    try:
        return inbox.get(timeout=timeout)
    except queue.Empty:
        raise TargetError(
            f"a generator process was not {what} within {timeout:.0f} s; "
            "check that the machine is not overloaded"
        ) from None


def _raise(msg: worker.Message) -> None:
    if isinstance(msg, worker.Failed):
        text = f"generator process failed: {msg.message}"
        raise TargetError(text) if msg.target_error else RuntimeError(text)
    raise RuntimeError(f"generator process sent {msg!r} out of turn")


def sum_progress(parts: Iterable[ProgressUpdate]) -> ProgressUpdate:
    items = list(parts)
    return ProgressUpdate(
        max(i.elapsed_s for i in items),
        sum(i.sent for i in items),
        sum(i.ok for i in items),
        sum(i.failed for i in items),
        sum(i.rps for i in items),
        max(i.p99_ms for i in items),
    )
