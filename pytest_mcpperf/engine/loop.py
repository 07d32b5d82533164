"""Running a coroutine to completion on the fastest event loop available."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """`coro` on a new uvloop loop (asyncio's where uvloop is missing)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return asyncio.run(coro)
    result: T = uvloop.run(coro)
    return result


def loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `make()` to completion from synchronous code.

    From a thread whose loop is already running (a pytest-asyncio test, say), it runs on
    a new loop in a helper thread, so that the caller's loop is never re-entered.
    """
    if not loop_running():
        return run_coroutine(make())
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            box["result"] = run_coroutine(make())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=body, name="mcpperf-loop", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result
