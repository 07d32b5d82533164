"""The server under test: a command to spawn on a free port, or a URL already running.

A spawned server gets its own process group, so that teardown (normal, Ctrl-C, or a
crashing test) stops the whole group, wrapper shells and workers included. Readiness is
a TCP accept on the chosen port within a deadline; a server that exits first fails fast
with the tail of its output.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import IO
from urllib.parse import urlsplit

from pytest_mcpperf.errors import ConfigError, TargetError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PATH = "/mcp"
PORT_PLACEHOLDER = "{port}"

_live: weakref.WeakSet[SpawnedServer] = weakref.WeakSet()


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def bundled_server_command(log_level: str = "warning") -> list[str]:
    """The command that starts the bundled server, `{port}` left to fill in."""
    return [sys.executable, "-m", "mcpperf_server",
            "--bind-address", f"{DEFAULT_HOST}:{PORT_PLACEHOLDER}", "--log-level", log_level]


def split_command(cmd: str | Sequence[str], where: str = "--mcp-server-cmd") -> list[str]:
    """A server command as argv; a string is split like a POSIX shell would."""
    argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
    if not argv:
        raise ConfigError(f"empty server command from {where}: give the command that "
                          "starts your MCP server, with {port} where the port goes")
    return argv


def check_url(url: str, where: str = "--mcp-url") -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"invalid MCP URL {url!r} from {where}: expected "
                          "http://HOST:PORT/PATH, e.g. http://127.0.0.1:8080/mcp")
    return url


def wait_reachable(url: str, timeout_s: float = 5.0) -> None:
    """Raise TargetError unless something accepts TCP connections at `url`."""
    parts = urlsplit(url)
    host = parts.hostname or DEFAULT_HOST
    port = parts.port or (443 if parts.scheme == "https" else 80)
    deadline = time.monotonic() + timeout_s
    last: OSError | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            last = exc
            time.sleep(0.05)
    raise TargetError(f"cannot reach the MCP server at {url} ({last}); start it first, "
                      "or fix --mcp-url, or let the plugin spawn one with --mcp-server-cmd")


@functools.cache
def _die_with_parent() -> Callable[[], None] | None:
    """Linux: a preexec_fn asking the kernel to SIGTERM the child if the spawner dies.

    Everything is looked up here, in the parent: between fork and exec the child must not
    import or dlopen, since another thread (an xdist channel, a background import) may
    have held the import or loader lock at the fork, and the child would wait forever.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None
    sigterm = int(signal.SIGTERM)

    def set_pdeathsig() -> None:  # pragma: no cover - runs in the child before exec
        prctl(1, sigterm)  # PR_SET_PDEATHSIG

    return set_pdeathsig


class SpawnedServer:
    """A server process started from a command, on a free loopback port.

    Use as a context manager, or call `start()` / `stop()`. `url`, `pid` and `port` are
    valid after `start()`. Output goes to a temporary log file (never a pipe that could
    fill up and stall the server); `output_tail()` returns its end for error messages.
    """

    def __init__(
        self,
        command: str | Sequence[str] | None = None,
        *,
        host: str = DEFAULT_HOST,
        path: str = DEFAULT_PATH,
        startup_timeout_s: float = 20.0,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.argv_template = split_command(command) if command else bundled_server_command()
        self.host = host
        self.path = path
        self.startup_timeout_s = startup_timeout_s
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise TargetError("the server has not been started")
        return self.process.pid

    @property
    def argv(self) -> list[str]:
        return [a.replace(PORT_PLACEHOLDER, str(self.port)) for a in self.argv_template]

    def start(self) -> SpawnedServer:
        self.port = free_port(self.host)
        # Closed in stop(); a file, not a pipe, so a chatty server never blocks on output.
        self._log = tempfile.NamedTemporaryFile(prefix="mcpperf-server-", suffix=".log")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                env=self.env, cwd=self.cwd, start_new_session=True, preexec_fn=_die_with_parent(),
            )
        except OSError as exc:
            raise TargetError(f"cannot start server command {shlex.join(self.argv)!r}: {exc}; "
                              "check the command and that its program is installed") from exc
        _live.add(self)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                self._fail(f"exited with status {self.process.returncode} before it accepted "
                           "connections")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.25):
                    return
            except OSError:
                time.sleep(0.02)
        self._fail(f"did not accept connections on {self.host}:{self.port} within "
                   f"{self.startup_timeout_s:g} s (is '{{port}}' in the command?)")

    def _fail(self, what: str) -> None:
        tail = self.output_tail()
        cmd = shlex.join(self.argv)
        self.stop()
        raise TargetError(f"server command {cmd!r} {what}.\n--- server output (last lines) "
                          f"---\n{tail or '(no output)'}")

    def output_tail(self, lines: int = 30) -> str:
        if self._log is None:
            return ""
        with contextlib.suppress(OSError), open(self._log.name, "rb") as f:
            text = f.read()[-16384:].decode("utf-8", "replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace_s: float = 5.0) -> int | None:
        """SIGTERM the whole process group, SIGKILL after `grace_s`; return the status."""
        proc = self.process
        if proc is None:
            return None
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=grace_s)
        _signal_group(proc.pid, signal.SIGKILL)  # stragglers left in the group
        _live.discard(self)
        if self._log is not None:
            self._log.close()
            self._log = None
        return proc.returncode

    def __enter__(self) -> SpawnedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _stop_all() -> None:
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.stop(grace_s=2.0)


atexit.register(_stop_all)

__all__ = ["SpawnedServer", "bundled_server_command", "check_url", "free_port",
           "split_command", "wait_reachable"]
