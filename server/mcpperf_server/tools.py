"""The seven seed tools: schemas, argument validation and implementations.

Every argument is validated before any work starts (a wrong type or an out-of-range value is
a JSON-RPC -32602 naming the parameter and its limit). Blocking work runs in the bounded
`CpuPool`; memory comes from the global `MemoryBudget`.
"""

from __future__ import annotations

import asyncio
import json
import math
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .config import ServerConfig
from .limits import CpuPool, MemoryBudget
from .protocol import INVALID_PARAMS, SIMULATED_ERROR, Json, RpcError, busy
from .sessions import CounterStore, Session
from .stats import Stats

_P = (1 << 61) - 1  # a Mersenne prime: fast_compute's product never collapses to 0
_INT_LIMIT = 1 << 53
_MIB = 1 << 20
ERROR_TYPES = ("success", "invalid", "protocol", "internal", "timeout", "disconnect", "overload")

Progress = Callable[[float, float | None, str | None], Awaitable[None]]


class DropConnection(Exception):
    """Raised by error_simulation("disconnect"): the HTTP layer drops the connection."""


@dataclass
class ToolContext:
    """What a tool call may touch: the server's shared state and this request's own."""

    config: ServerConfig
    budget: MemoryBudget
    pool: CpuPool
    stats: Stats
    counters: CounterStore
    sessions_live: Callable[[], int]
    session: Session | None = None
    progress: Progress | None = None


async def _no_progress(progress: float, total: float | None, message: str | None) -> None:
    return None


def text_result(text: str, output: Any, *, is_error: bool = False) -> Json:
    """A tools/call result: the seed's text, `{"output": ...}` and its JSON mirrored as text."""
    structured = {"output": output}
    mirror = f'{{"output": {output}}}' if type(output) is int else json.dumps(structured)
    return {
        "content": [{"type": "text", "text": text}, {"type": "text", "text": mirror}],
        "structuredContent": structured,
        "isError": is_error,
    }


def _bad(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message, status=200)


def get_int(args: Json, name: str, low: int, high: int, default: int | None = None) -> int:
    value = args.get(name, default)
    if value is None:
        raise _bad(f"missing required argument '{name}' (an integer {low}..{high})")
    if type(value) is not int:
        if type(value) is float and value.is_integer():
            value = int(value)
        else:
            raise _bad(f"argument '{name}' must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise _bad(f"argument '{name}' = {value} is outside {low}..{high}; pass a value in range")
    return value


def get_str(args: Json, name: str, max_len: int = 256, *, required: bool = True) -> str | None:
    value = args.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        got = "nothing" if value is None else type(value).__name__
        raise _bad(f"argument '{name}' must be a string, got {got}")
    if len(value) > max_len:
        raise _bad(f"argument '{name}' is longer than {max_len} characters")
    return value


_FACT100 = math.factorial(100) % _P


def compute(value: int) -> int:
    """fast_compute's work: value x 100! modulo 2^61-1 (the seed's formula, minus its
    overflow to 0), with 100! reduced once at import."""
    return value % _P * _FACT100 % _P


def fast_compute(args: Json, ctx: ToolContext) -> Json:
    value = get_int(args, "input", -_INT_LIMIT, _INT_LIMIT)
    result = compute(value)
    return text_result(f"Computed result: {result}", result)


def _spin(iterations: int) -> int:
    acc = 0
    for i in range(iterations):
        acc = (acc + i * i) % 1_000_003
    return acc


async def cpu_intensive(args: Json, ctx: ToolContext) -> Json:
    size = get_int(args, "size", 0, ctx.config.max_cpu_size)
    progress = ctx.progress or _no_progress
    await progress(0, 1, "started")
    result = await ctx.pool.run(lambda: _spin(size * 1000))
    await progress(1, 1, "done")
    return text_result(
        f"CPU intensive task completed: {size * 1000} iterations, result: {result}", result
    )


def _allocate(mb: int, release: Callable[[], None]) -> int:
    try:
        buf = bytearray(mb * _MIB)
        buf[::4096] = b"\x01" * len(range(0, len(buf), 4096))  # touch every page
        return zlib.crc32(buf)
    finally:
        release()


async def memory_allocate(args: Json, ctx: ToolContext) -> Json:
    mb = get_int(args, "mb_size", 0, ctx.config.max_alloc_mb)
    ctx.budget.acquire(mb)
    loop = asyncio.get_running_loop()
    token = [mb]
    started = []

    def release() -> None:  # idempotent: list.pop is atomic, whichever thread gets there
        try:
            n = token.pop()
        except IndexError:
            return
        loop.call_soon_threadsafe(ctx.budget.release, n)

    def job() -> int:
        started.append(True)
        return _allocate(mb, release)

    try:
        checksum = await ctx.pool.run(job)
    except BaseException:
        if not started:  # refused or cancelled before the thread ran: give the MiB back
            release()
        raise
    return text_result(f"Allocated {mb} MB, checksum: {checksum}", {"mb": mb, "checksum": checksum})


async def async_io(args: Json, ctx: ToolContext) -> Json:
    delay_ms = get_int(args, "delay_ms", 0, ctx.config.max_delay_ms)
    if ctx.progress is None:
        await asyncio.sleep(delay_ms / 1000)
    else:
        steps = 4
        for step in range(steps):
            await ctx.progress(step, steps, f"waiting {delay_ms}ms")
            await asyncio.sleep(delay_ms / 1000 / steps)
        await ctx.progress(steps, steps, "done")
    return text_result(f"Async I/O completed after {delay_ms}ms", delay_ms)


def session_counter(args: Json, ctx: ToolContext) -> Json:
    increment = get_int(args, "increment", -1_000_000_000, 1_000_000_000, default=1)
    counter_id = get_str(args, "counter_id", required=False)
    if ctx.session is not None:
        key = counter_id or ""
        value = ctx.session.counters.get(key, 0) + increment
        if key in ctx.session.counters or len(ctx.session.counters) < 64:
            ctx.session.counters[key] = value
    elif counter_id is None:
        raise _bad(
            "session_counter needs 'counter_id' in protocol 2026-07-28, which has no "
            "sessions; pass counter_id to name the counter"
        )
    else:
        value = ctx.counters.add(counter_id, increment)
    return text_result(f"Session counter: {value} (incremented by {increment})", value)


def perf_stats(args: Json, ctx: ToolContext) -> Json:
    s = ctx.stats
    out = {
        "requests_total": s.requests,
        "errors_total": s.errors,
        "requests_per_tool": dict(s.per_tool),
        "in_flight": s.in_flight,
        "active_sessions": ctx.sessions_live(),
        "processing_time_ms": s.percentiles_ms(),
        "rps": round(s.rps(), 2),
        "uptime_s": s.uptime_s(),
        "rss_mb": s.rss_mb(),
        "memory_budget_mb": {"in_use": ctx.budget.in_use_mb, "limit": ctx.budget.budget_mb},
    }
    return text_result(f"Performance stats: {json.dumps(out)}", out)


async def error_simulation(args: Json, ctx: ToolContext) -> Json:
    kind = get_str(args, "error_type", 32)
    if kind not in ERROR_TYPES:
        raise _bad(f"unknown error_type {kind!r}; use one of {', '.join(ERROR_TYPES)}")
    if kind == "invalid":
        return text_result("Simulated tool error: invalid input", "invalid", is_error=True)
    if kind == "protocol":
        raise RpcError(SIMULATED_ERROR, "Simulated protocol error")
    if kind == "internal":
        raise RuntimeError("simulated unhandled exception")
    if kind == "timeout":
        delay = get_int(args, "timeout_ms", 0, ctx.config.max_delay_ms, default=5000)
        await asyncio.sleep(delay / 1000)
        return text_result(f"Error simulation: timeout answered after {delay}ms", "timeout")
    if kind == "disconnect":
        raise DropConnection()
    if kind == "overload":
        raise busy("Simulated overload: server busy, retry after 1s")
    return text_result("Error simulation: success", "success")


@dataclass(frozen=True)
class Tool:
    """A tool's definition for tools/list and its implementation."""

    name: str
    description: str
    properties: Json
    required: tuple[str, ...]
    fn: Callable[[Json, ToolContext], Any]
    is_async: bool
    long: bool = False

    def definition(self) -> Json:
        schema: Json = {"type": "object", "properties": self.properties}
        if self.required:
            schema["required"] = list(self.required)
        return {"name": self.name, "description": self.description, "inputSchema": schema}


def _int(desc: str, minimum: int, maximum: int) -> Json:
    return {"type": "integer", "description": desc, "minimum": minimum, "maximum": maximum}


def build_tools(config: ServerConfig) -> dict[str, Tool]:
    tools = [
        Tool(
            "fast_compute",
            "Minimal overhead computation: input x 100! mod 2^61-1.",
            {"input": _int("any integer", -_INT_LIMIT, _INT_LIMIT)},
            ("input",),
            fast_compute,
            False,
        ),
        Tool(
            "cpu_intensive",
            "CPU stress: size x 1000 loop iterations off the event loop.",
            {"size": _int("work units", 0, config.max_cpu_size)},
            ("size",),
            cpu_intensive,
            True,
            True,
        ),
        Tool(
            "memory_allocate",
            "Allocates and touches mb_size MiB, returns a checksum.",
            {"mb_size": _int("MiB to allocate", 0, config.max_alloc_mb)},
            ("mb_size",),
            memory_allocate,
            True,
            True,
        ),
        Tool(
            "async_io",
            "Awaits delay_ms without blocking anything.",
            {"delay_ms": _int("milliseconds", 0, config.max_delay_ms)},
            ("delay_ms",),
            async_io,
            True,
            True,
        ),
        Tool(
            "session_counter",
            "A counter per session (legacy) or per counter_id (2026-07-28).",
            {
                "increment": _int("added to the counter", -1_000_000_000, 1_000_000_000),
                "counter_id": {"type": "string", "maxLength": 256},
            },
            (),
            session_counter,
            False,
        ),
        Tool("perf_stats", "Server-side measured counters.", {}, (), perf_stats, False),
        Tool(
            "error_simulation",
            "Produces the named error condition.",
            {
                "error_type": {"type": "string", "enum": list(ERROR_TYPES)},
                "timeout_ms": _int("delay for error_type=timeout", 0, config.max_delay_ms),
            },
            ("error_type",),
            error_simulation,
            True,
            True,
        ),
    ]
    return {t.name: t for t in tools}
