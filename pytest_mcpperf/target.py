"""The server under test: one `Target`, spawned from a command or reached at a URL.

`Target.spawn(command)` starts a server on a free loopback port (the bundled server when
no command is given); `Target.at_url(url)` checks a server that is already running. Both
give the same object: `url`, `pid` (None when unknown), `spawned`; `alive()`, `rss()`,
`stop()`. The pytest fixture `mcp_server`, every `mcpperf` subcommand and the scenarios
use it.

A spawned server gets its own process group, so that teardown (normal, Ctrl-C, or a
crashing test) stops the whole group, wrapper shells and workers included. Readiness is
a TCP accept on the chosen port within a deadline (`accepts_tcp`, the one probe); a
server that exits first fails fast with the tail of its output.
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
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import IO
from urllib.parse import SplitResult, urlsplit

from pytest_mcpperf.errors import ConfigError, TargetError
from pytest_mcpperf.vocabulary import option

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PATH = "/mcp"
PORT_PLACEHOLDER = "{port}"
DEFAULT_STARTUP_TIMEOUT_S = 20.0
MAX_PORT = 65535
_URL_EXAMPLE = "http://127.0.0.1:8080/mcp"

_live: weakref.WeakSet[SpawnedServer | StdioServer] = weakref.WeakSet()
#: running stdio servers of this process, by pid: the engine's stdio transport finds
#: the pipes of the server a spec names (`LoadSpec.server_pid`) here
_stdio_by_pid: dict[int, StdioServer] = {}
#: pools of copies of one stdio server, by the pid of their first member
_pools: dict[int, StdioPool] = {}


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def bundled_server_command(log_level: str = "warning") -> list[str]:
    """The command that starts the bundled server, `{port}` left to fill in."""
    return [
        sys.executable,
        "-m",
        "mcpperf_server",
        "--bind-address",
        f"{DEFAULT_HOST}:{PORT_PLACEHOLDER}",
        "--log-level",
        log_level,
    ]


def split_command(cmd: str | Sequence[str], where: str = "--mcp-server-cmd") -> list[str]:
    """A server command as argv; a string is split like a POSIX shell would."""
    argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
    if not argv:
        raise ConfigError(
            f"empty server command from {where}: give the command that "
            "starts your MCP server, with {port} where the port goes"
        )
    return argv


# ---------------------------------------------------------------- URLs and the probe


def check_url(url: str, where: str = "--mcp-url") -> str:
    """`url` if it is an http(s) URL with a host and a usable port; else ConfigError."""
    bad = f"invalid MCP URL {url!r} from {where}"
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "http://[::1/mcp": an unclosed IPv6 bracket
        raise ConfigError(
            f"{bad}: malformed IPv6 address; write it in brackets, e.g. http://[::1]:8080/mcp"
        ) from None
    _check_host(parts, bad)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{bad}: expected http://HOST:PORT/PATH, e.g. {_URL_EXAMPLE}")
    _check_port(parts, bad)
    return url


def _check_host(parts: SplitResult, bad: str) -> None:
    """An IPv6 address needs brackets, and brackets hold only an IPv6 address."""
    hostport = parts.netloc.rpartition("@")[2]
    bracketed = hostport.startswith("[")
    if (not bracketed and hostport.count(":") > 1) or (
        bracketed and ":" not in (parts.hostname or "")
    ):
        raise ConfigError(
            f"{bad}: malformed IPv6 address; write it in brackets, e.g. http://[::1]:8080/mcp"
        )


def _check_port(parts: SplitResult, bad: str) -> None:
    try:
        port = parts.port
    except ValueError:  # not a number, or above 65535
        port = -1
    if port is not None and not 1 <= port <= MAX_PORT:
        given = parts.netloc.rpartition(":")[2]
        raise ConfigError(
            f"{bad}: port {given!r} is not a number from 1 to {MAX_PORT}; "
            f"fix the port, e.g. {_URL_EXAMPLE}"
        )


def host_port(url: str) -> tuple[str, int]:
    """The TCP address a URL points at (default ports for http and https)."""
    parts = urlsplit(url)
    return parts.hostname or DEFAULT_HOST, parts.port or (443 if parts.scheme == "https" else 80)


def accepts_tcp(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when something accepts a TCP connection at host:port within `timeout_s`.

    The one reachability probe: `wait_reachable`, a spawned server's readiness wait and
    `Target.alive()` all use it.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_reachable(url: str, timeout_s: float = 5.0, front_end: str = "pytest") -> None:
    """Raise TargetError unless something accepts TCP connections at `url` in time.

    The message names the fix in `front_end`'s own options ("pytest", "cli" or "api").
    """
    host, port = host_port(url)
    deadline = time.monotonic() + timeout_s
    while True:
        if accepts_tcp(host, port, timeout_s=min(0.5, max(0.05, timeout_s))):
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    raise TargetError(
        f"cannot reach the MCP server at {url} (nothing accepts connections on "
        f"{host}:{port} after {timeout_s:g} s): start it first, fix "
        f"{option(front_end, 'url')}, or spawn one with "
        f"{option(front_end, 'server_cmd')}"
    )


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
        startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
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
        env = self.env
        if env is not None:  # {port} in a value too (PORT={port})
            env = {k: v.replace(PORT_PLACEHOLDER, str(self.port)) for k, v in env.items()}
        try:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        except OSError as exc:
            raise TargetError(
                f"cannot start server command {shlex.join(self.argv)!r}: {exc}; "
                "check the command and that its program is installed"
            ) from exc
        _live.add(self)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                self._fail(
                    f"exited with status {self.process.returncode} before it accepted connections"
                )
            if accepts_tcp(self.host, self.port, timeout_s=0.25):
                return
            time.sleep(0.02)
        self._fail(
            f"did not accept connections on {self.host}:{self.port} within "
            f"{self.startup_timeout_s:g} s (is '{{port}}' in the command, or in "
            "its environment, e.g. PORT={port}?)"
        )

    def _fail(self, what: str) -> None:
        tail = self.output_tail()
        cmd = shlex.join(self.argv)
        self.stop()
        raise TargetError(
            f"server command {cmd!r} {what}.\n--- server output (last lines) "
            f"---\n{tail or '(no output)'}"
        )

    def output_tail(self, lines: int = 30) -> str:
        if self._log is None:
            return ""
        with contextlib.suppress(OSError), open(self._log.name, "rb") as f:
            text = f.read()[-16384:].decode("utf-8", "replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def exit_status(self) -> int | None:
        """The process's exit status once it has exited, else None."""
        return None if self.process is None else self.process.poll()

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


# ---------------------------------------------------------------- stdio servers

STDERR_TAIL_BYTES = 16384


class StdioServer:
    """An MCP server spoken to over its stdin and stdout (the stdio transport).

    Started like `SpawnedServer` (own process group, dies with its parent), but with
    three pipes: stdin and stdout carry newline-delimited JSON-RPC (the engine's
    `engine.stdio` reads and writes them), and stderr is drained by a thread all the
    time into a bounded tail, so a chatty server never blocks on a full pipe and its
    last words can be shown when it dies. `pid` is the direct child, often a wrapper
    (`npx`, `uv run`, a shell); memory is read from its whole process tree.
    """

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.argv = split_command(command)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self._tail = bytearray()
        self._tail_lock = threading.Lock()
        self._drain: threading.Thread | None = None

    @property
    def url(self) -> str:
        """How reports and messages name this server: `stdio:` and its command."""
        return "stdio:" + shlex.join(self.argv)

    @property
    def pid(self) -> int:
        if self.process is None:
            raise TargetError("the server has not been started")
        return self.process.pid

    def start(self) -> StdioServer:
        try:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                cwd=self.cwd,
                bufsize=0,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        except OSError as exc:
            raise TargetError(
                f"cannot start stdio server command {shlex.join(self.argv)!r}: {exc}; "
                "check the command and that its program is installed"
            ) from exc
        self._drain = threading.Thread(
            target=self._drain_stderr, name=f"mcpperf-stderr-{self.process.pid}", daemon=True
        )
        self._drain.start()
        _live.add(self)
        _stdio_by_pid[self.process.pid] = self
        return self

    def _drain_stderr(self) -> None:
        proc = self.process
        if proc is None or proc.stderr is None:
            return
        fd = proc.stderr.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._tail_lock:
                self._tail += chunk
                del self._tail[:-STDERR_TAIL_BYTES]

    def fds(self) -> tuple[int, int]:
        """(the server's stdin, its stdout) as file descriptors of this process."""
        if self.process is None or self.process.stdin is None or self.process.stdout is None:
            raise TargetError("the stdio server has not been started")
        return self.process.stdin.fileno(), self.process.stdout.fileno()

    def output_tail(self, lines: int = 30) -> str:
        """The end of what the server wrote on stderr."""
        with self._tail_lock:
            text = bytes(self._tail).decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def exit_status(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, grace_s: float = 5.0) -> int | None:
        """Close its stdin (a stdio server's cue to exit), then SIGTERM and SIGKILL the
        group as `SpawnedServer.stop` does; return the status."""
        proc = self.process
        if proc is None:
            return None
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=min(1.0, grace_s))
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=grace_s)
        _signal_group(proc.pid, signal.SIGKILL)
        _live.discard(self)
        _stdio_by_pid.pop(proc.pid, None)
        if self._drain is not None:
            self._drain.join(1.0)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        return proc.returncode

    def __enter__(self) -> StdioServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StdioPool:
    """Copies of one stdio server command, for servers that answer one request at a
    time: the stdio transport spreads its connections (and so the users) over them.

    Behaves as one server to the rest of the package: `pid` is the first member's,
    `alive()` means every member runs, `stop()` stops them all; `pids` are the
    members' pids, whose process trees are sampled together. `grow(n)` starts more
    copies (same command, environment and directory) until there are `n`.
    """

    def __init__(self, first: StdioServer) -> None:
        self.members = [first]
        _pools[first.pid] = self

    @property
    def pid(self) -> int:
        return self.members[0].pid

    @property
    def pids(self) -> list[int]:
        return [m.pid for m in self.members]

    @property
    def url(self) -> str:
        return self.members[0].url

    def grow(self, n: int) -> StdioPool:
        first = self.members[0]
        while len(self.members) < n:
            self.members.append(StdioServer(first.argv, env=first.env, cwd=first.cwd).start())
        return self

    def alive(self) -> bool:
        return all(m.alive() for m in self.members)

    def _dead(self) -> StdioServer:
        return next((m for m in self.members if not m.alive()), self.members[0])

    @property
    def exit_status(self) -> int | None:
        return self._dead().exit_status

    def output_tail(self, lines: int = 30) -> str:
        return self._dead().output_tail(lines)

    def stop(self, grace_s: float = 5.0) -> int | None:
        _pools.pop(self.members[0].pid, None)
        statuses = [m.stop(grace_s) for m in self.members]
        return statuses[0]


def stdio_pool(pid: int | None) -> StdioPool | None:
    """The pool of stdio servers whose first member has `pid`, if this process has one."""
    return None if pid is None else _pools.get(pid)


def server_pids(pid: int) -> list[int]:
    """The pids whose process trees make up the server `pid`: a pool's members, or `pid`."""
    pool = _pools.get(pid)
    return pool.pids if pool is not None else [pid]


def stdio_server(pid: int | None) -> StdioServer | None:
    """The running stdio server this process started with `pid`, if any."""
    return None if pid is None else _stdio_by_pid.get(pid)


# ---------------------------------------------------------------- the target


class Target:
    """The server under test: `url`, `pid` (None when unknown) and whether we `spawned` it.

    Build one with `Target.spawn(command)` or `Target.at_url(url)`. Use it as a context
    manager, or call `stop()` (which stops a spawned server's whole process group and
    does nothing for a URL). `front_end` ("pytest", "cli" or "api") decides which options
    the error messages name.
    """

    def __init__(
        self,
        url: str,
        pid: int | None = None,
        *,
        server: SpawnedServer | StdioServer | StdioPool | None = None,
        front_end: str = "api",
    ) -> None:
        self.url = url
        self.pid = pid
        self.server = server
        self.front_end = front_end
        self._protocol_version: str | None = None
        #: How `protocol_version` is asked: (url, pid) -> revision. Front ends set the
        #: probe of the target's own transport (a stdio server's pipes), which this
        #: layer cannot import (the engine's stdio transport imports it); unset, HTTP.
        self.version_probe: Callable[[str, int | None], str] | None = None

    def __repr__(self) -> str:
        return f"Target(url={self.url!r}, pid={self.pid!r}, spawned={self.spawned!r})"

    # -- construction

    @classmethod
    def spawn(
        cls,
        command: str | Sequence[str] | None = None,
        *,
        startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        front_end: str = "api",
        transport: str = "http",
        path: str = DEFAULT_PATH,
        processes: int = 1,
    ) -> Target:
        """Start `command` (the bundled server when None) on a free port; wait until ready.

        `transport="stdio"` starts `command` with pipes instead (`StdioServer`): its
        url is `stdio:COMMAND`, and its readiness is the MCP handshake of the first run;
        `processes` > 1 starts that many copies (a `StdioPool`), for a server that
        answers one request at a time.
        """
        if transport == "stdio":
            if not command:
                raise ConfigError(
                    f"the stdio transport needs the server's command: give "
                    f'{option(front_end, "server_cmd")}, e.g. "python my_server.py"'
                )
            pool = StdioPool(StdioServer(command, env=env, cwd=cwd).start())
            try:
                pool.grow(processes)
            except BaseException:
                pool.stop()
                raise
            return cls(pool.url, pool.pid, server=pool, front_end=front_end)
        if processes != 1:
            raise ConfigError(
                f"{option(front_end, 'server_processes')} is for stdio servers "
                f"({option(front_end, 'transport')} stdio): an HTTP server runs its own "
                "workers"
            )
        server = SpawnedServer(
            command, startup_timeout_s=startup_timeout_s, env=env, cwd=cwd, path=path
        )
        server.start()
        return cls(server.url, server.pid, server=server, front_end=front_end)

    @classmethod
    def at_url(
        cls,
        url: str,
        *,
        pid: int | None = None,
        front_end: str = "api",
        reach_timeout_s: float = 2.0,
    ) -> Target:
        """A server already running at `url`: the URL is checked, then TCP reachability."""
        check_url(url, option(front_end, "url"))
        wait_reachable(url, timeout_s=reach_timeout_s, front_end=front_end)
        return cls(url, pid, front_end=front_end)

    # -- what it is

    @property
    def spawned(self) -> bool:
        """True when this target started the server (and so stops it)."""
        return self.server is not None

    @property
    def process(self) -> SpawnedServer | StdioServer | StdioPool | None:
        """The spawned server behind this target (None for a URL)."""
        return self.server

    @property
    def pids(self) -> list[int]:
        """The pids whose process trees are the server (several for a stdio pool)."""
        if self.pid is None:
            return []
        return self.server.pids if isinstance(self.server, StdioPool) else [self.pid]

    @property
    def protocol_version(self) -> str:
        """The protocol revision the server speaks (asked once, on first use, over the
        target's own transport: HTTP, or a stdio server's pipes)."""
        if self._protocol_version is None:
            if self.version_probe is not None:
                self._protocol_version = self.version_probe(self.url, self.pid)
            else:
                from pytest_mcpperf.engine.control import probe_protocol_version

                self._protocol_version = probe_protocol_version(self.url)
        return self._protocol_version

    @property
    def exit_status(self) -> int | None:
        """A spawned server's exit status once it has exited; None while it runs or for a URL."""
        return None if self.server is None else self.server.exit_status

    def output_tail(self, lines: int = 30) -> str:
        """The end of a spawned server's output ("" for a URL, or once stopped)."""
        return "" if self.server is None else self.server.output_tail(lines)

    # -- what it does

    def alive(self) -> bool:
        """Spawned: its process runs. Known pid: that process exists. Else: it accepts TCP."""
        if self.server is not None:
            return self.server.alive()
        if self.pid is not None:
            import psutil

            return bool(psutil.pid_exists(self.pid))
        return accepts_tcp(*host_port(self.url), timeout_s=1.0)

    def check_alive(self) -> None:
        """Raise TargetError with the server's last output if a spawned server has died."""
        if self.server is None or self.server.alive():
            return
        raise TargetError(
            f"the MCP server (pid {self.pid}) exited with status "
            f"{self.exit_status} during the session.\n--- server output (last "
            f"lines) ---\n{self.output_tail() or '(no output)'}\n"
            "Fix the server (its output above says why), then run again."
        )

    def rss(self) -> int:
        """The resident memory of the server's process tree, in bytes."""
        if self.pid is None:
            raise TargetError(
                f"the pid of the server at {self.url} is unknown, so its memory "
                f"cannot be measured: {_pid_fix(self.front_end)}"
            )
        import psutil

        from pytest_mcpperf.monitor import rss_bytes

        try:
            return sum(rss_bytes(pid) for pid in self.pids)
        except psutil.Error as exc:
            raise TargetError(
                f"cannot read the memory of server pid {self.pid} ({exc}); "
                "check that the server is still running"
            ) from exc

    def stop(self) -> int | None:
        """Stop a spawned server's whole process group, return its status; None for a URL."""
        return None if self.server is None else self.server.stop()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pid_fix(front_end: str) -> str:
    spawn = f"let it be spawned ({option(front_end, 'server_cmd')})"
    if front_end == "pytest":
        return f"{spawn} instead of giving {option(front_end, 'url')}"
    return f"{spawn} or give its pid ({option(front_end, 'server_pid')})"


__all__ = [
    "SpawnedServer",
    "StdioPool",
    "StdioServer",
    "Target",
    "accepts_tcp",
    "bundled_server_command",
    "check_url",
    "free_port",
    "host_port",
    "server_pids",
    "split_command",
    "stdio_pool",
    "stdio_server",
    "wait_reachable",
]
