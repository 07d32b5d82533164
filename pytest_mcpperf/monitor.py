"""Resource samples of the server under test, taken from *its* process (psutil).

The server is the process with the given pid plus all its descendants (a wrapper
shell, ASGI workers), so `mcp_server` spawned through `sh -c` is still measured
correctly. Sampling runs in a daemon thread and costs the generator next to nothing.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

MB = 1024 * 1024
MAX_SERIES_POINTS = 1200  # ~5 minutes of readings at 0.25 s; longer runs are thinned


@dataclass(frozen=True)
class Sample:
    """One reading of the server's process tree."""

    t: float  # seconds since the monitor started
    rss_bytes: int
    cpu_seconds: float  # user + system, cumulative, whole tree
    num_fds: int
    num_threads: int
    processes: int


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return [root]


def read_sample(root: psutil.Process, t: float) -> Sample:
    """Sum RSS and CPU time over the tree; raises psutil.NoSuchProcess if root is gone."""
    rss = fds = threads = 0
    cpu = 0.0
    procs = _tree(root)
    root.memory_info()  # the root must exist; children may vanish between calls
    if root.status() == psutil.STATUS_ZOMBIE:
        # A dead child not yet reaped still has a pid, with RSS 0: it is not alive, and
        # a zero reading would show as a -100 % "growth".
        raise psutil.ZombieProcess(root.pid)
    for p in procs:
        with contextlib.suppress(psutil.Error), p.oneshot():
            rss += p.memory_info().rss
            ct = p.cpu_times()
            cpu += ct.user + ct.system
            threads += p.num_threads()
            with contextlib.suppress(psutil.Error, AttributeError):
                fds += p.num_fds()
    return Sample(t, rss, cpu, fds, threads, len(procs))


def read_trees(roots: list[psutil.Process], t: float) -> Sample:
    """`read_sample` summed over several trees (copies of a stdio server)."""
    parts = [read_sample(root, t) for root in roots]
    return Sample(
        t,
        sum(p.rss_bytes for p in parts),
        sum(p.cpu_seconds for p in parts),
        sum(p.num_fds for p in parts),
        sum(p.num_threads for p in parts),
        sum(p.processes for p in parts),
    )


def rss_bytes(pid: int) -> int:
    """Current RSS of `pid` and its descendants."""
    return read_sample(psutil.Process(pid), 0.0).rss_bytes


def summarize(samples: list[Sample], alive: bool = True) -> dict[str, Any]:
    """The report's `server` object from a list of samples."""
    if not samples:
        return {"samples": 0, "alive": alive}
    first, last = samples[0], samples[-1]
    cpu = [
        100.0 * (b.cpu_seconds - a.cpu_seconds) / (b.t - a.t)
        for a, b in itertools.pairwise(samples)
        if b.t > a.t
    ]
    growth = 0.0
    if first.rss_bytes:
        growth = 100.0 * (last.rss_bytes - first.rss_bytes) / first.rss_bytes
    return {
        "rss_mb": {
            "start": round(first.rss_bytes / MB, 3),
            "peak": round(max(s.rss_bytes for s in samples) / MB, 3),
            "end": round(last.rss_bytes / MB, 3),
        },
        "cpu_percent": {
            "mean": round(sum(cpu) / len(cpu), 1) if cpu else 0.0,
            "max": round(max(cpu), 1) if cpu else 0.0,
        },
        "growth_percent": round(growth, 2),
        "num_fds": {"start": first.num_fds, "peak": max(s.num_fds for s in samples)},
        "num_threads": {"start": first.num_threads, "peak": max(s.num_threads for s in samples)},
        "processes": {"start": first.processes, "peak": max(s.processes for s in samples)},
        "samples": len(samples),
        "alive": alive,
        "series": series(samples),
    }


def series(samples: list[Sample], max_points: int = MAX_SERIES_POINTS) -> list[dict[str, Any]]:
    """The readings as `[{t, rss_bytes, cpu_percent}]`, thinned to at most `max_points`.

    Thinning keeps the first and last readings and evenly spaced ones between; each
    point's `cpu_percent` is the tree's CPU use since the previous point kept (None for
    the first point, which has no interval before it).
    """
    if max_points < 2:
        raise ValueError(f"max_points={max_points}: pass 2 or more")
    n = len(samples)
    if n > max_points:
        picks = sorted({round(i * (n - 1) / (max_points - 1)) for i in range(max_points)})
        samples = [samples[i] for i in picks]
    out: list[dict[str, Any]] = []
    for i, s in enumerate(samples):
        cpu: float | None = None
        if i and s.t > samples[i - 1].t:
            prev = samples[i - 1]
            cpu = round(100.0 * (s.cpu_seconds - prev.cpu_seconds) / (s.t - prev.t), 1)
        out.append({"t": round(s.t, 3), "rss_bytes": s.rss_bytes, "cpu_percent": cpu})
    return out


class ServerMonitor:
    """Samples a server's process tree every `interval_s` in a background thread.

    `start()` takes a first sample at once (time zero), `stop()` takes a last one and
    returns `summarize()`'s dict. `samples` holds every reading; `alive` turns False
    when the server process disappears. `pid` may be several pids (the copies of a
    stdio server): their trees are summed.
    """

    def __init__(
        self,
        pid: int | Sequence[int],
        interval_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        pids = [pid] if isinstance(pid, int) else list(pid)
        self.pid = pids[0]
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self.alive = True
        self._clock = clock
        self._t0 = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            self._procs = [psutil.Process(p) for p in pids]
        except psutil.NoSuchProcess:
            self._procs = []
            self.alive = False

    def sample(self) -> Sample | None:
        """Take one reading now (also usable without the thread)."""
        if not self._procs or not self.alive:
            return None
        try:
            s = read_trees(self._procs, self._clock() - self._t0)
        except psutil.Error:
            self.alive = False
            return None
        self.samples.append(s)
        return s

    def start(self) -> ServerMonitor:
        self._t0 = self._clock()
        self._stop.clear()
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="mcpperf-monitor", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.sample() is None:
                return

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self.sample()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        return summarize(self.samples, self.alive)

    def __enter__(self) -> ServerMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
