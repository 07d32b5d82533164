"""Protections: Host / Origin checks, the global memory budget, the bounded CPU executor."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from urllib.parse import urlsplit

from .config import ServerConfig
from .protocol import busy

T = TypeVar("T")

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split_host(value: str) -> str:
    """`host:port` / `[v6]:port` / `host` -> lower-case host (v6 keeps its brackets)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostGuard:
    """DNS-rebinding defence: which Host and Origin values a request may carry.

    Bound to loopback, only loopback names are accepted (plus `extra_hosts`); bound to
    another address, that address and `extra_hosts` are accepted as well.
    """

    def __init__(self, config: ServerConfig) -> None:
        hosts = {"localhost", "127.0.0.1", "[::1]"}
        if not is_loopback(config.host):
            bound = config.host.lower()
            hosts.add(f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound)
        hosts.update(h.lower() for h in config.extra_hosts)
        self.wildcard = config.host in ("0.0.0.0", "::") and not config.extra_hosts
        self.hosts = frozenset(hosts)
        self._seen: dict[str, bool] = {}

    def host_ok(self, host: str | None) -> bool:
        if host is None:
            return False
        ok = self._seen.get(host)
        if ok is None:
            ok = self.wildcard or _split_host(host) in self.hosts
            if len(self._seen) < 256:
                self._seen[host] = ok
        return ok

    def origin_ok(self, origin: str | None) -> bool:
        if origin is None:
            return True
        try:
            parts = urlsplit(origin)
            name = parts.hostname
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not name:
            return False
        name = f"[{name}]" if ":" in name else name
        return self.wildcard or name in self.hosts


class MemoryBudget:
    """Global cap on MiB held by `memory_allocate` calls at once; refuses, never queues."""

    def __init__(self, budget_mb: int) -> None:
        self.budget_mb = budget_mb
        self.in_use_mb = 0
        self.refused = 0

    def acquire(self, mb: int) -> None:
        if self.in_use_mb + mb > self.budget_mb:
            self.refused += 1
            raise busy(
                f"memory budget exhausted: {self.in_use_mb} of {self.budget_mb} MiB "
                f"in use, {mb} MiB asked; retry later or raise --memory-budget-mb"
            )
        self.in_use_mb += mb

    def release(self, mb: int) -> None:
        self.in_use_mb -= mb


class CpuPool:
    """A bounded thread pool for blocking work, with a cap on work queued or running."""

    def __init__(self, workers: int, max_queued: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mcpperf-cpu")
        self.max_queued = max_queued
        self.queued = 0

    async def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` in a worker thread; 503 at once when the pool is full.

        A job counts until its thread finishes, even when the caller has gone away, so a
        flood of abandoned calls cannot queue unbounded work.
        """
        if self.queued >= self.max_queued:
            raise busy(
                f"CPU pool full: {self.queued} jobs queued or running "
                f"(cap {self.max_queued}); retry later or lower the rate"
            )
        loop = asyncio.get_running_loop()
        self.queued += 1
        job = self._pool.submit(fn)
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(self._done))
        return await asyncio.wrap_future(job)

    def _done(self) -> None:
        self.queued -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
