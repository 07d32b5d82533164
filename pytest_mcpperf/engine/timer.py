"""A one-shot wake-up at an exact time, for the open-loop dispatcher.

uvloop (libuv) keeps timers in whole milliseconds and rounds a shorter delay down to
zero, so a dispatcher that sleeps until a send is due either wakes up to 1 ms late or,
re-checking the clock to never send early, spins through the loop until the time comes
(that spinning once cost 10-22x the CPU per request of the closed loop). On Linux a
timerfd armed at an absolute CLOCK_MONOTONIC time becomes readable when the time comes,
to the microsecond, and the loop's own poll waits for it: no spinning, no early send.

`PreciseTimer` is that timerfd (through ctypes, so it works on Python 3.11); where it is
missing, `LoopTimer` uses the loop's timers with the delay rounded *up* to the next
millisecond (a send is then up to about 1 ms late, never early). Both call `callback`
once per `at()`, or every `every_s` from then on (a periodic timer: one system call
for a run of wake-ups on a grid); the caller re-checks the clock and re-arms if it woke
too soon.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import math
import os
import time
from collections.abc import Callable
from typing import Protocol

CLOCK_MONOTONIC = 1
TFD_TIMER_ABSTIME = 1
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class Timer(Protocol):
    """Calls its callback once at (never before) the time given to `at`."""

    kind: str

    def at(self, when_s: float, every_s: float = 0.0) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.timerfd_create.restype = ctypes.c_int
        libc.timerfd_settime.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def monotonic_is_perf_counter() -> bool:
    """Whether time.perf_counter reads CLOCK_MONOTONIC (the timerfd's clock)."""
    return "CLOCK_MONOTONIC" in time.get_clock_info("perf_counter").implementation.replace(
        "CLOCK_MONOTONIC_RAW", ""
    )


class PreciseTimer:
    """A timerfd on the loop: wakes at an absolute perf_counter time, to the microsecond."""

    kind = "timerfd"

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        libc = _libc()
        if libc is None or not monotonic_is_perf_counter():
            raise OSError("timerfd is not available here")
        fd = libc.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._libc, self._fd, self._loop, self._callback = libc, fd, loop, callback
        self._spec = _Itimerspec()
        self._ref = ctypes.byref(self._spec)
        loop.add_reader(fd, self._fire)

    def at(self, when_s: float, every_s: float = 0.0) -> None:
        if when_s <= 0:
            when_s = 1e-9  # zero would disarm the timer
        _set(self._spec.it_value, when_s)
        _set(self._spec.it_interval, every_s)
        self._settime()

    def stop(self) -> None:
        _set(self._spec.it_value, 0.0)
        _set(self._spec.it_interval, 0.0)
        self._settime()

    def _settime(self) -> None:
        if self._libc.timerfd_settime(self._fd, TFD_TIMER_ABSTIME, self._ref, None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")

    def _fire(self) -> None:
        try:
            os.read(self._fd, 8)
        except BlockingIOError:  # already consumed: nothing is due
            return
        self._callback()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._fd)
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _set(ts: _Timespec, seconds: float) -> None:
    frac, whole = math.modf(seconds)
    ts.tv_sec = int(whole)
    ts.tv_nsec = int(frac * 1e9) or (0 if whole or not seconds else 1)


class LoopTimer:
    """The loop's own timer, the delay rounded up to whole milliseconds."""

    kind = "loop"

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        callback: Callable[[], None],
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._loop, self._callback, self._clock = loop, callback, clock
        self._handle: asyncio.TimerHandle | None = None
        self._when = self._every = 0.0

    def at(self, when_s: float, every_s: float = 0.0) -> None:
        self.stop()
        self._when, self._every = when_s, every_s
        self._schedule()

    def _schedule(self) -> None:
        delay_ms = math.ceil(max(0.0, self._when - self._clock()) * 1000.0)
        self._handle = self._loop.call_at(self._loop.time() + delay_ms / 1000.0, self._fire)

    def _fire(self) -> None:
        self._handle = None
        now = self._clock()
        if now < self._when:  # the loop's clock ran ahead of ours: never early, wait again
            self._schedule()
            return
        if self._every > 0:  # the next tick after now, on the same grid
            self._when += max(1, math.ceil((now - self._when) / self._every)) * self._every
            self._schedule()
        self._callback()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def close(self) -> None:
        self.stop()


def make_timer(
    loop: asyncio.AbstractEventLoop,
    callback: Callable[[], None],
    clock: Callable[[], float] = time.perf_counter,
) -> Timer:
    """A `PreciseTimer` where the clock is perf_counter and timerfd exists, else a
    `LoopTimer`."""
    if clock is time.perf_counter:
        with contextlib.suppress(OSError):
            return PreciseTimer(loop, callback)
    return LoopTimer(loop, callback, clock)
