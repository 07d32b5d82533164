"""The server a `mcpperf stress` / `mcpperf memory` command measures, and how it runs load.

Without `--server-url` the command spawns a server (the bundled one, or `--server-cmd`)
and knows its pid, so the server's own memory can be sampled. With `--server-url` only
a pid given by `--server-pid` makes that possible.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import psutil

from pytest_mcpperf.errors import TargetError
from pytest_mcpperf.monitor import rss_bytes
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import SpawnedServer, check_url, wait_reachable

Runner = Callable[[LoadSpec], LoadResult]


@dataclass
class Target:
    """Where the server listens, and its pid when known."""

    url: str
    pid: int | None
    spawned: SpawnedServer | None = field(default=None, repr=False)

    def alive(self) -> bool:
        if self.spawned is not None:
            return self.spawned.alive()
        if self.pid is not None:
            return psutil.pid_exists(self.pid)
        return _accepts(self.url)

    def rss(self) -> int:
        """The server's RSS (its process tree), in bytes."""
        if self.pid is None:
            raise TargetError("the server's pid is unknown, so its memory cannot be measured: "
                              "let mcpperf spawn it (--server-cmd) or pass --server-pid")
        try:
            return rss_bytes(self.pid)
        except psutil.Error as exc:
            raise TargetError(f"cannot read the memory of server pid {self.pid} ({exc}); "
                              "check that the server is still running") from exc


def _accepts(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), 1.0):
            return True
    except OSError:
        return False


def add_target_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server-pid", metavar="PID", type=int, default=None,
                   help="pid of the server behind --server-url, so that its memory can be "
                   "sampled (default: none; spawned servers are always measured)")


@contextlib.contextmanager
def open_target(args: argparse.Namespace) -> Iterator[Target]:
    """Spawn the server (bundled or --server-cmd) or use --server-url; stop what we spawned."""
    url: str | None = getattr(args, "server_url", None)
    if url:
        check_url(url, "--server-url")
        wait_reachable(url)
        yield Target(url, getattr(args, "server_pid", None))
        return
    server = SpawnedServer(getattr(args, "server_cmd", None))
    server.start()
    try:
        yield Target(server.url, server.pid, server)
    finally:
        server.stop()


def engine() -> Any:
    """The load engine module (`run`, `arun`), imported late so `--help` stays fast."""
    return importlib.import_module("pytest_mcpperf.engine.runner")


def default_runner() -> Runner:
    """The load engine's `run`."""
    return cast(Runner, engine().run)
