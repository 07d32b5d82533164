"""Legacy-era sessions (`Mcp-Session-Id`): minting, lookup, idle expiry, a cap on how many live.

The 2026-07-28 era has no sessions; its explicit-id state (`counter_id`) lives in
`CounterStore`.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import secrets
import time
from collections import OrderedDict
from typing import Any

from .protocol import busy

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class Session:
    """One legacy client session: its version, log level, counters and live work.

    Slotted, with its dicts made on first use: 10,000 idle sessions cost little and free
    cleanly when they expire.
    """

    __slots__ = (
        "_counters",
        "_inflight",
        "id",
        "initialized",
        "last_seen",
        "log_level",
        "protocol_version",
        "stream",
    )

    def __init__(self, sid: str, protocol_version: str, last_seen: float) -> None:
        self.id = sid
        self.protocol_version = protocol_version
        self.last_seen = last_seen
        self.log_level = "info"
        self.initialized = False
        self._counters: dict[str, int] | None = None
        self._inflight: dict[Any, asyncio.Task[Any]] | None = None
        self.stream: asyncio.Queue[bytes | None] | None = None

    @property
    def counters(self) -> dict[str, int]:
        if self._counters is None:
            self._counters = {}
        return self._counters

    @property
    def inflight(self) -> dict[Any, asyncio.Task[Any]]:
        if self._inflight is None:
            self._inflight = {}
        return self._inflight

    def busy(self) -> bool:
        """True while a request runs or a GET stream is open: not idle, whatever the clock."""
        return bool(self._inflight) or self.stream is not None


class SessionStore:
    """Live sessions keyed by id, expired after `idle_timeout_s` without a request.

    `sweep()` runs periodically (see `run_sweeper`); after a large expiry it rebuilds the
    dict and returns freed memory to the OS so RSS comes back down.
    """

    def __init__(self, idle_timeout_s: float, max_sessions: int) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.max_sessions = max_sessions
        self._sessions: dict[str, Session] = {}
        self.created = 0
        self.expired = 0
        self.refused = 0
        self._last_sweep = 0.0

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, protocol_version: str) -> Session:
        if len(self._sessions) >= self.max_sessions and self._may_sweep():
            self.sweep()
        if len(self._sessions) >= self.max_sessions:
            self.refused += 1
            raise busy(
                f"too many live sessions ({self.max_sessions}); close idle sessions "
                "with DELETE, wait for them to expire, or raise --max-sessions",
                retry_after_s=max(1, int(self.idle_timeout_s)),
            )
        sid = secrets.token_urlsafe(24)
        session = Session(sid, protocol_version, time.monotonic())
        self._sessions[sid] = session
        self.created += 1
        return session

    def _may_sweep(self) -> bool:
        """At the cap, sweep at most a few times a second: each sweep is O(sessions), and a
        flood of refused initializes must not turn into a flood of sweeps."""
        return time.monotonic() - self._last_sweep >= min(0.25, self.idle_timeout_s / 4)

    def get(self, sid: str) -> Session | None:
        session = self._sessions.get(sid)
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_seen > self.idle_timeout_s and not session.busy():
            self._drop(sid)
            return None
        session.last_seen = now
        return session

    def delete(self, sid: str) -> bool:
        if sid not in self._sessions:
            return False
        self._drop(sid)
        return True

    def _drop(self, sid: str) -> None:
        session = self._sessions.pop(sid)
        for task in (session._inflight or {}).values():
            task.cancel()
        if session.stream is not None:
            session.stream.put_nowait(None)

    def sweep(self) -> int:
        """Expire idle sessions; returns how many went."""
        self._last_sweep = time.monotonic()
        deadline = self._last_sweep - self.idle_timeout_s
        stale = [
            sid for sid, s in self._sessions.items() if s.last_seen < deadline and not s.busy()
        ]
        for sid in stale:
            self._drop(sid)
        self.expired += len(stale)
        if len(stale) >= 256:
            self._sessions = dict(self._sessions)  # a dict never shrinks in place
            release_memory()
        return len(stale)

    def close_all(self) -> None:
        for sid in list(self._sessions):
            self._drop(sid)

    async def run_sweeper(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            self.sweep()


class CounterStore:
    """2026-07-28 counters named by an explicit `counter_id`, bounded in number (LRU)."""

    def __init__(self, max_counters: int) -> None:
        self.max_counters = max_counters
        self._values: OrderedDict[str, int] = OrderedDict()

    def add(self, counter_id: str, increment: int) -> int:
        value = self._values.pop(counter_id, 0) + increment
        self._values[counter_id] = value
        if len(self._values) > self.max_counters:
            self._values.popitem(last=False)
        return value


_libc_name = ctypes.util.find_library("c")
_malloc_trim = getattr(ctypes.CDLL(_libc_name), "malloc_trim", None) if _libc_name else None


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc only)."""
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)
