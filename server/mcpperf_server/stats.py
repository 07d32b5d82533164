"""Server-side counters behind `perf_stats`: measured, never derived from latency."""

from __future__ import annotations

import importlib
import os
import time
from array import array
from collections.abc import Callable
from typing import Any

_RING = 8192
_WINDOW_S = 10


class Stats:
    """Requests per tool, in flight, processing-time samples, a per-second completion series.

    Processing times go into a fixed ring of the last 8192 samples; RPS is completions over
    the last full seconds of wall clock (up to 10), not an inverse of latency.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.requests = 0
        self.errors = 0
        self.in_flight = 0
        self.per_tool: dict[str, int] = {}
        self._ring = array("d", bytes(8 * _RING))
        self._n = 0
        self._sec = array("q", bytes(8 * _WINDOW_S))
        self._sec_id = array("q", [-1] * _WINDOW_S)

    def begin(self) -> None:
        self.requests += 1
        self.in_flight += 1

    def end(self, tool: str | None, seconds: float, ok: bool) -> None:
        self.in_flight -= 1
        if tool is not None:
            self.per_tool[tool] = self.per_tool.get(tool, 0) + 1
        if not ok:
            self.errors += 1
        self._ring[self._n % _RING] = seconds
        self._n += 1
        sec = int(self.clock())
        slot = sec % _WINDOW_S
        if self._sec_id[slot] != sec:
            self._sec_id[slot] = sec
            self._sec[slot] = 0
        self._sec[slot] += 1

    def rps(self) -> float:
        """Completions per second over the last full seconds (the current one excluded)."""
        now = int(self.clock())
        span = min(_WINDOW_S - 1, max(1, now - int(self.started)))
        total = sum(
            self._sec[s % _WINDOW_S]
            for s in range(now - span, now)
            if self._sec_id[s % _WINDOW_S] == s
        )
        return total / span

    def percentiles_ms(self) -> dict[str, float]:
        samples = sorted(self._ring[: min(self._n, _RING)])
        if not samples:
            return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}

        def pick(q: float) -> float:
            return round(samples[min(len(samples) - 1, int(q * len(samples)))] * 1000, 3)

        return {
            "p50": pick(0.50),
            "p90": pick(0.90),
            "p99": pick(0.99),
            "max": round(samples[-1] * 1000, 3),
        }

    def rss_mb(self) -> float:
        return round(rss_bytes() / 1048576, 2)

    def uptime_s(self) -> float:
        return round(self.clock() - self.started, 3)


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident set size of this process (/proc on Linux, psutil elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        psutil: Any = importlib.import_module("psutil")
        return int(psutil.Process(os.getpid()).memory_info().rss)
