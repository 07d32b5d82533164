"""The stdio transport: newline-delimited JSON-RPC over a server process's pipes.

One server process carries many requests at once. Every `connect()` returns a
`StdioLink`, one request in flight at a time like an HTTP connection, and all the links
of a transport share one `StdioMux`, which writes each request on the server's stdin
and hands each response line to the request with the same JSON-RPC id. Ids are unique
in the whole process (`McpSession.next_id`), so sessions never collide on one pipe.

Several runs at once may speak to one process (two loads together, a control-path
probe during a load), each in its own event loop or in one: the process's pipes are a
`StdioPipe`, one per process, shared by the muxes of every run. One loop reads the
server's stdout and hands each response to the run whose request has its id; writes
from every run go through one lock, so lines never interleave; a run that ends leaves
the pipe to the others (its reading moves to one of their loops).

Latency is measured by the generator exactly as over HTTP: from the intended send time
to the arrival of the response line. A request's deadline fails it with
`RequestTimeout` and forgets its id; an answer that comes later is counted as
`unmatched` and dropped, never taken for another request's response.

What the server sends besides responses is never taken for one: requests (ping,
roots/list, sampling, elicitation) are answered at once (ping and roots/list) or
refused with JSON-RPC error -32601, and notifications are counted. A line longer than
`max_line_bytes`, or the server's stdout closing, fails every request in flight with a
`TransportError` whose message ends with the server's last stderr lines.

The process itself is a `target.StdioServer` (own process group, stderr drained by a
thread all the time): the one a front end spawned for this run (found by
`LoadSpec.server_pid`), or one this transport spawns from `LoadSpec.server_cmd` and
stops when its last link closes. With `LoadSpec.server_processes` = N the transport
speaks to N copies of the command (a `target.StdioPool`, grown to N when the front end
started fewer) and hands out its links round robin, so users and connections are
spread evenly over the copies.

Whether a server answered one request at a time is read from the pipe (`SerialStats`):
a server that works on one request at a time answers a request that waited behind
others one whole service time after the previous answer, while a server that works on
k at once answers about k times as often. The estimate compares, over the answers to
requests sent while others were outstanding, the time each took after the previous
answer with the shortest service time of the same request (per request template): its
ratio is the parallelism the server showed; about 1 means it answered one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_mcpperf.engine.sse import SseEvent
from pytest_mcpperf.errors import RequestTimeout, TransportError
from pytest_mcpperf.target import StdioPool, StdioServer, stdio_pool, stdio_server
from pytest_mcpperf.vocabulary import option

if TYPE_CHECKING:
    from pytest_mcpperf.spec import LoadSpec

#: The longest line accepted from a server (a response with a large resource, say).
MAX_LINE_BYTES = 16 * 1024 * 1024
_ID_PREFIX = b'{"jsonrpc":"2.0","id":'
_NO_HEADERS: Mapping[str, str] = {}
METHOD_NOT_FOUND = -32601


@dataclass(frozen=True, slots=True)
class StdioReply:
    """One response line; `status` is 200 (202 for a notification, which has none)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    events: list[SseEvent] | None = None


ACCEPTED = StdioReply(202, _NO_HEADERS, b"")


@dataclass
class StdioCounters:
    """What the server sent besides responses, and lines that were not one."""

    server_requests: int = 0
    notifications: int = 0
    unmatched: int = 0
    bad_lines: int = 0
    requests_by_method: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "server_requests": self.server_requests,
            "server_requests_by_method": dict(self.requests_by_method),
            "notifications": self.notifications,
            "unmatched_responses": self.unmatched,
            "bad_lines": self.bad_lines,
        }


#: Answers to requests sent while others were outstanding that the estimate needs,
#: and the parallelism below which a server is said to answer one request at a time.
SERIAL_MIN_QUEUED = 50
SERIAL_MAX_PARALLELISM = 1.3


@dataclass
class SerialStats:
    """Did the process answer one request at a time? (see the module's docstring)

    Per request template (the hot path's requests; control-path ones only count as
    outstanding): the shortest service time, and over the answers to requests sent
    while another was outstanding, their count and the sum of the time each took
    after the answer before it (or after its send, if later).
    """

    last_answer: float = 0.0
    min_s: dict[bytes, float] = field(default_factory=dict)
    queued: dict[bytes, list[float]] = field(default_factory=dict)  # [count, sum]

    def observe(self, kind: bytes, sent: float, now: float, queued: bool) -> None:
        service = now - sent
        best = self.min_s.get(kind)
        if best is None or service < best:
            self.min_s[kind] = service
        if queued:
            after = now - max(sent, self.last_answer)
            acc = self.queued.get(kind)
            if acc is None:
                self.queued[kind] = [1.0, after]
            else:
                acc[0] += 1.0
                acc[1] += after

    def result(self) -> dict[str, Any]:
        """`queued_answers`, `parallelism` (None when too few answers waited) and
        `one_at_a_time` (None when it cannot be told)."""
        count = sum(int(c) for c, _ in self.queued.values())
        work = sum(c * self.min_s.get(k, 0.0) for k, (c, _) in self.queued.items())
        spent = sum(t for _, t in self.queued.values())
        parallelism = round(work / spent, 2) if count >= SERIAL_MIN_QUEUED and spent > 0 else None
        return {
            "queued_answers": count,
            "parallelism": parallelism,
            "one_at_a_time": None if parallelism is None else parallelism < SERIAL_MAX_PARALLELISM,
        }


def request_id(data: bytes) -> int | str | None:
    """The JSON-RPC id of one framed request (None for a notification).

    A hot-path template starts with the id, so it is read without decoding JSON; a
    control-path message is decoded.
    """
    if data.startswith(_ID_PREFIX):
        end = data.index(b",", len(_ID_PREFIX))
        return int(data[len(_ID_PREFIX) : end])
    msg = json.loads(data)
    rid = msg.get("id") if isinstance(msg, dict) else None
    return rid if isinstance(rid, int | str) else None


#: How much one read takes from a server's stdout.
READ_BYTES = 256 * 1024
#: The pipes in use, by server process: every run speaking to a process shares one.
_PIPES: dict[StdioServer, StdioPipe] = {}
_PIPES_LOCK = threading.Lock()


def _call(mux: StdioMux, here: asyncio.AbstractEventLoop, fn: Any, *args: Any) -> None:
    """`fn(*args)` on `mux`'s loop: at once when that is `here`, else handed over."""
    if mux.loop is here:
        fn(*args)
    else:
        with contextlib.suppress(RuntimeError):  # its loop has closed: its run is over
            mux.loop.call_soon_threadsafe(fn, *args)


class StdioPipe:
    """The stdin and stdout of one server process, shared by every run that speaks to it.

    Each run (in its own event loop, perhaps in its own thread) has a `StdioMux`; all
    the muxes of one process share this pipe. Exactly one of them, the owner, reads the
    server's stdout in its loop and hands each response to the mux whose request has its
    id (at once in its own loop, else with `call_soon_threadsafe`); ids are unique in
    the whole process, so they never collide. Writes, from any thread, go through one
    lock, so lines never interleave. A mux that leaves hands the reading over to one
    that stays (the partial line read so far is kept here); the last one to leave
    closes this pipe's descriptors (duplicates: the server's own pipes stay open for
    the next run). With a single mux a line goes straight to it, as if unshared.
    """

    def __init__(self, server: StdioServer, max_line_bytes: int) -> None:
        self.server = server
        self.max_line_bytes = max_line_bytes
        stdin_fd, stdout_fd = server.fds()
        self.rfd = os.dup(stdout_fd)
        self.wfd = os.dup(stdin_fd)
        os.set_blocking(self.rfd, False)
        os.set_blocking(self.wfd, False)
        self.lock = threading.Lock()  # membership, ownership and writes
        self.muxes: tuple[StdioMux, ...] = ()
        self.only: StdioMux | None = None  # the one mux, when there is one
        self.owner: StdioMux | None = None  # whose loop reads (and flushes)
        self.closed = False
        self.buffer = bytearray()
        self.chunk = bytearray(READ_BYTES)
        self.view = memoryview(self.chunk)
        self.skipping = False  # inside a line that was too long
        self.wbuf = bytearray()
        self.flush_loop: asyncio.AbstractEventLoop | None = None

    # -- who uses it ------------------------------------------------------------------
    def attach(self, mux: StdioMux) -> bool:
        """Add `mux` (from its loop); False when this pipe has closed meanwhile."""
        with self.lock:
            if self.closed:
                return False
            self.muxes += (mux,)
            self.only = mux if len(self.muxes) == 1 else None
            take = self.owner is None
            if take:
                self.owner = mux
        if take:
            self._start_reading(mux)
        return True

    def detach(self, mux: StdioMux) -> None:
        """Remove `mux` (from its loop), handing the reading over if it was the owner."""
        with self.lock:
            if mux not in self.muxes:
                return
            self.muxes = tuple(m for m in self.muxes if m is not mux)
            self.only = self.muxes[0] if len(self.muxes) == 1 else None
            heir: StdioMux | None = None
            if self.owner is mux:
                self.owner = heir = self.muxes[0] if self.muxes else None
                mux.loop.remove_reader(self.rfd)
                if self.flush_loop is mux.loop:
                    mux.loop.remove_writer(self.wfd)
                    self.flush_loop = None
            last = not self.muxes
        if last:
            self._close()
        elif heir is not None:
            _call(heir, mux.loop, self._start_reading, heir)

    def _start_reading(self, mux: StdioMux) -> None:
        """In `mux`'s loop: read (and flush) there, if it still owns this pipe."""
        with self.lock:
            if self.closed or self.owner is not mux:
                return
            mux.loop.add_reader(self.rfd, self._readable)
        self._arm()

    def _close(self) -> None:
        with self.lock:
            self.closed = True
            self.muxes, self.only, self.owner = (), None, None
            for fd in (self.rfd, self.wfd):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self.rfd = self.wfd = -1
        with _PIPES_LOCK:
            if _PIPES.get(self.server) is self:
                del _PIPES[self.server]

    # -- writing ----------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Send `data` whole, before anything written after it (from any thread)."""
        with self.lock:
            if self.wfd < 0:
                return
            if not self.wbuf:
                try:
                    n = os.write(self.wfd, data)
                except BlockingIOError:
                    n = 0
                except OSError:
                    self._broken()
                    return
                if n == len(data):
                    return
                data = data[n:]
            self.wbuf += data
            owner = self.owner if self.flush_loop is None else None
        if owner is not None:
            with contextlib.suppress(RuntimeError):
                owner.loop.call_soon_threadsafe(self._arm)

    def _arm(self) -> None:
        """In the owner's loop: flush what is waiting when the pipe can take it."""
        with self.lock:
            owner = self.owner
            if self.closed or owner is None or self.flush_loop is not None or not self.wbuf:
                return
            if asyncio.get_running_loop() is not owner.loop:
                return  # the reading moved meanwhile: the new owner arms it
            self.flush_loop = owner.loop
            owner.loop.add_writer(self.wfd, self._flush)

    def _flush(self) -> None:
        with self.lock:
            loop = self.flush_loop
            if self.wfd < 0 or loop is None:
                return
            try:
                n = os.write(self.wfd, self.wbuf)
            except BlockingIOError:
                return
            except OSError:
                self._broken()
                return
            del self.wbuf[:n]
            if not self.wbuf:
                loop.remove_writer(self.wfd)
                self.flush_loop = None

    def _broken(self) -> None:
        """The server's stdin closed (under the lock): drop what waits, end in the owner's loop."""
        self.wbuf.clear()
        owner = self.owner
        if owner is not None:
            with contextlib.suppress(RuntimeError):
                owner.loop.call_soon_threadsafe(self._eof)

    # -- reading (in the owner's loop) ------------------------------------------------
    def _readable(self) -> None:
        try:  # into a buffer kept for the purpose: no allocation per read
            n = os.readv(self.rfd, (self.chunk,))
        except BlockingIOError:
            return
        except OSError:
            n = 0
        if not n:
            self._eof()
            return
        buffer = self.buffer
        buffer += self.view[:n]
        only = self.only  # one run: its lines go straight to it
        on_line = only.on_line if only is not None else self._on_line
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            if self.skipping:
                self.skipping = False
            elif end > start:
                on_line(bytes(buffer[start:end]))
            start = end + 1
        del buffer[:start]
        if len(buffer) > self.max_line_bytes:
            buffer.clear()
            if not self.skipping:
                self.skipping = True
                self._each("on_line_too_long")

    def _on_line(self, line: bytes) -> None:
        """A line read while several runs share the pipe: to the one it answers."""
        owner = self.owner
        if owner is None:
            return
        rid = owner.response_id(line)
        if rid is None:
            return
        for mux in self.muxes:
            if rid in mux.pending:
                _call(mux, owner.loop, mux.on_response, rid, line)
                return
        owner.counters.unmatched += 1

    def _each(self, method: str) -> None:
        owner = self.owner
        if owner is None:
            return
        for mux in self.muxes:
            _call(mux, owner.loop, getattr(mux, method), None)

    def _eof(self) -> None:
        """The server's stdout closed (or its stdin broke): every run's requests fail."""
        with self.lock:
            owner, muxes = self.owner, self.muxes
            if self.closed or owner is None:
                return
            if asyncio.get_running_loop() is not owner.loop:  # the reading moved meanwhile
                with contextlib.suppress(RuntimeError):
                    owner.loop.call_soon_threadsafe(self._eof)
                return
            owner.loop.remove_reader(self.rfd)
            if self.flush_loop is owner.loop:
                owner.loop.remove_writer(self.wfd)
                self.flush_loop = None
        self._close()
        for mux in muxes:
            _call(mux, owner.loop, mux.on_eof, None)


def _message(line: bytes) -> dict[str, Any] | None:
    """One line as a JSON-RPC object, None when it is not one (a batch, a bare value)."""
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) else None


def join_pipe(server: StdioServer, max_line_bytes: int, mux: StdioMux) -> StdioPipe:
    """The pipe of `server` that every run in this process shares, with `mux` added."""
    while True:
        with _PIPES_LOCK:
            pipe = _PIPES.get(server)
            if pipe is None or pipe.closed:
                pipe = _PIPES[server] = StdioPipe(server, max_line_bytes)
        if pipe.attach(mux):
            return pipe


#: a request in flight: (future, deadline timer, send time, template kind, sent while
#: others were outstanding)
_Pending = tuple[asyncio.Future[StdioReply], asyncio.TimerHandle, float, bytes | None, bool]


class StdioMux:
    """One run's side of a server process's pipe (`StdioPipe`), in the run's event loop,
    shared by all the run's links to that process."""

    def __init__(self, server: StdioServer, owned: bool, max_line_bytes: int) -> None:
        self.server = server
        self.owned = owned
        self.max_line_bytes = max_line_bytes
        self.loop = asyncio.get_running_loop()
        self.pending: dict[int | str, _Pending] = {}
        self.counters = StdioCounters()
        self.serial = SerialStats()
        self.links: set[StdioLink] = set()
        self.closed = False
        self.pipe: StdioPipe | None = None
        self.out = bytearray()  # lines to send, written once per loop iteration

    async def open(self) -> None:
        self.pipe = join_pipe(self.server, self.max_line_bytes, self)

    # -- requests -------------------------------------------------------------------
    def request(self, data: bytes, deadline: float) -> asyncio.Future[StdioReply]:
        fut: asyncio.Future[StdioReply] = self.loop.create_future()
        pipe = self.pipe
        if self.closed or pipe is None:
            fut.set_exception(self.gone_error("closed"))
            return fut
        if not data:  # nothing to send (a legacy DELETE has no stdio form)
            fut.set_result(ACCEPTED)
            return fut
        kind: bytes | None = None
        rid: int | str | None
        if data.startswith(_ID_PREFIX):  # a hot-path template: its kind is what follows the id
            end = data.index(b",", len(_ID_PREFIX))
            rid, kind = int(data[len(_ID_PREFIX) : end]), data[end:]
        else:
            rid = request_id(data)
        if rid is None:
            self._send(data)
            fut.set_result(ACCEPTED)
            return fut
        if rid in self.pending:
            fut.set_exception(TransportError("duplicate_id", f"request id {rid} is in flight"))
            return fut
        timer = self.loop.call_at(deadline, self._on_timeout, rid)
        self.pending[rid] = (fut, timer, self.loop.time(), kind, bool(self.pending))
        self._send(data)
        return fut

    def _send(self, data: bytes) -> None:
        """Queue `data`; what a loop iteration queued goes out in one write (a load sends
        many requests per iteration, and a write is a system call)."""
        out = self.out
        if not out:
            self.loop.call_soon(self._flush)
        out += data

    def _flush(self) -> None:
        out, pipe = self.out, self.pipe
        if out and pipe is not None:
            pipe.write(bytes(out))
        out.clear()

    def _on_timeout(self, rid: int | str) -> None:
        entry = self.pending.pop(rid, None)
        if entry is not None and not entry[0].done():
            entry[0].set_exception(RequestTimeout("timeout", "no response before the deadline"))

    # -- what the server writes -------------------------------------------------------
    def on_line(self, line: bytes) -> None:
        """A line read while this is the pipe's only run (in this loop)."""
        rid = self.response_id(line)
        if rid is not None:
            self.on_response(rid, line)

    def response_id(self, line: bytes) -> int | str | None:
        """The id `line` answers; None when it answers none, and then it is dealt with
        here: a line that is no JSON-RPC object counts as bad, the server's own request
        or notification is handled, a response without a usable id counts as unmatched."""
        msg = _message(line)
        if msg is None:
            self.counters.bad_lines += 1
            return None
        if "method" in msg:
            self.from_server(msg)
            return None
        rid = msg.get("id")
        if isinstance(rid, int | str):
            return rid
        self.counters.unmatched += 1
        return None

    def on_response(self, rid: int | str, line: bytes) -> None:
        """The response `line` to this run's request `rid` (in this loop)."""
        entry = self.pending.pop(rid, None)
        if entry is None:
            self.counters.unmatched += 1
            return
        fut, timer, sent, kind, queued = entry
        timer.cancel()
        now = self.loop.time()
        if kind is not None:
            self.serial.observe(kind, sent, now, queued)
        self.serial.last_answer = now
        if not fut.done():
            fut.set_result(StdioReply(200, _NO_HEADERS, line))

    def from_server(self, msg: dict[str, Any]) -> None:
        c = self.counters
        if "id" not in msg:
            c.notifications += 1
            return
        method = str(msg["method"])
        c.server_requests += 1
        c.requests_by_method[method] = c.requests_by_method.get(method, 0) + 1
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": msg["id"]}
        if method == "ping":
            answer["result"] = {}
        elif method == "roots/list":
            answer["result"] = {"roots": []}
        else:  # sampling, elicitation...: a load generator has no model and no user
            answer["error"] = {
                "code": METHOD_NOT_FOUND,
                "message": f"mcpperf does not support {method}",
            }
        if self.pipe is not None and not self.closed:
            self._send(json.dumps(answer, separators=(",", ":")).encode() + b"\n")

    def on_line_too_long(self, _: object = None) -> None:
        self.counters.bad_lines += 1
        self._fail_all(
            TransportError(
                "line_too_long",
                f"the stdio server wrote a line longer than {self.max_line_bytes} bytes",
            )
        )

    def on_eof(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        for link in self.links:
            link.closed = True
        self._fail_all(self.gone_error("closed"))
        self._leave()

    def gone_error(self, code: str) -> TransportError:
        """The server's pipes closed: say so, with its exit status and last stderr lines."""
        status = self.server.exit_status
        how = f"exited with status {status}" if status is not None else "closed its stdout"
        tail = self.server.output_tail(10)
        return TransportError(
            code,
            f"the stdio server {how}; its stderr ends with:\n{tail or '(nothing)'}",
        )

    def _fail_all(self, exc: Exception) -> None:
        pending, self.pending = self.pending, {}
        for fut, timer, *_ in pending.values():
            timer.cancel()
            if not fut.done():
                fut.set_exception(exc)

    # -- links -------------------------------------------------------------------------
    def release(self, link: StdioLink) -> None:
        self.links.discard(link)
        if not self.links:
            self.close()

    def close(self) -> None:
        self.closed = True
        self._fail_all(TransportError("closed", "the stdio transport was closed"))
        self._leave()
        if self.owned:
            self.server.stop(grace_s=2.0)

    def _leave(self) -> None:
        self.out.clear()
        pipe, self.pipe = self.pipe, None
        if pipe is not None:
            pipe.detach(self)


class StdioLink:
    """One request in flight at a time, over the process's shared pipes."""

    def __init__(self, mux: StdioMux) -> None:
        self.mux = mux
        self.closed = mux.closed
        mux.links.add(self)

    def request(self, data: bytes, deadline: float) -> asyncio.Future[StdioReply]:
        return self.mux.request(data, deadline)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.mux.release(self)
        elif self in self.mux.links:
            self.mux.release(self)


class StdioTemplate:
    """A request framed once: `encode(rid)` fills the id; the line ends with a newline."""

    __slots__ = ("_template",)

    def __init__(self, before: bytes, after: bytes) -> None:
        self._template = before.replace(b"%", b"%%") + b"%d" + after.replace(b"%", b"%%") + b"\n"

    def encode(self, rid: int) -> bytes:
        return self._template % rid


class StdioTransport:
    """MCP over the stdin and stdout of one or more copies of a server process
    (headers have no meaning here); links are handed out round robin over the copies."""

    name = "stdio"

    def __init__(
        self,
        server: StdioServer | StdioPool | None = None,
        *,
        command: tuple[str, ...] = (),
        max_line_bytes: int = MAX_LINE_BYTES,
        processes: int = 1,
        front_end: str = "api",
    ) -> None:
        if server is None and not command:
            raise ValueError("the stdio transport needs a running server or a command")
        self.server = server
        self.command = command
        self.max_line_bytes = max_line_bytes
        self.processes = max(1, processes)
        self.front_end = front_end
        self._muxes: list[StdioMux | None] = [None] * self.processes
        self._next = 0
        self._owned: dict[int, StdioServer] = {}
        self._opening: dict[int, asyncio.Future[StdioMux]] = {}

    async def connect(self, timeout_s: float) -> StdioLink:
        index = self._next % self.processes
        self._next += 1
        mux = self._muxes[index]
        if mux is None or mux.closed:
            opening = self._opening.get(index)
            if opening is None:  # one opening per copy, however many links wait for it
                opening = self._opening[index] = asyncio.ensure_future(self._open(index))
            try:
                opened = await asyncio.shield(opening)
                self._muxes[index] = opened
            finally:
                if opening.done() and self._opening.get(index) is opening:
                    del self._opening[index]
            return StdioLink(opened)
        return StdioLink(mux)

    def _server(self, index: int) -> tuple[StdioServer, bool]:
        if isinstance(self.server, StdioPool):
            return self.server.grow(self.processes).members[index], False
        if self.server is not None and index == 0:
            return self.server, False
        argv = self.server.argv if self.server is not None else self.command
        env = self.server.env if self.server is not None else None
        server = self._owned.get(index)
        if server is None or server.exit_status is not None:  # stopped with its last link
            server = self._owned[index] = StdioServer(argv, env=env).start()
        return server, True

    async def _open(self, index: int = 0) -> StdioMux:
        server, owned = self._server(index)
        if not server.alive():
            status = server.exit_status
            raise TransportError(
                "closed",
                f"the stdio server exited with status {status}; its stderr ends "
                f"with:\n{server.output_tail(10) or '(nothing)'}",
            )
        mux = StdioMux(server, owned, self.max_line_bytes)
        await mux.open()
        return mux

    def counters(self) -> dict[str, Any]:
        """What the servers sent besides responses during this transport's life, and
        whether they answered one request at a time (`one_at_a_time`, `parallelism`
        per process, and a `note` that suggests more processes when they did)."""
        muxes = [m for m in self._muxes if m is not None]
        if not muxes:
            return {}
        out = muxes[0].counters.to_dict()
        for m in muxes[1:]:
            more = m.counters.to_dict()
            for key, value in more.items():
                if isinstance(value, int):
                    out[key] += value
                else:
                    for method, n in value.items():
                        out[key][method] = out[key].get(method, 0) + n
        serial = [m.serial.result() for m in muxes]
        known = [s["one_at_a_time"] for s in serial if s["one_at_a_time"] is not None]
        out["processes"] = self.processes
        out["parallelism"] = [s["parallelism"] for s in serial]
        out["one_at_a_time"] = all(known) if known else None
        if out["one_at_a_time"]:
            out["note"] = serial_note(self.processes, self.front_end)
        return out

    def frame(self, method: str, headers: Mapping[str, str], body: bytes = b"") -> bytes:
        """One line; a body-less HTTP verb (a legacy DELETE) has nothing to send."""
        return body + b"\n" if body else b""

    def template(self, headers: Mapping[str, str], before: bytes, after: bytes) -> StdioTemplate:
        return StdioTemplate(before, after)


def serial_note(processes: int, front_end: str) -> str:
    """What the report says of a server that answered one request at a time."""
    copies = "its process" if processes == 1 else f"each of its {processes} processes"
    return (
        f"the stdio server answered one request at a time ({copies}): requests waited "
        "for each other, so latency grew with the load and throughput is about "
        f"{processes} / service time; run several copies with "
        f"{option(front_end, 'server_processes')} N to spread the load"
    )


def stdio_pids(spec: LoadSpec) -> list[int]:
    """For a stdio spec whose server a front end started (`server_pid`): the pids of
    the `server_processes` copies the run will use, the pool grown to that many first
    (so that they are sampled from the start). Empty otherwise."""
    if spec.transport != "stdio":
        return []
    pool = stdio_pool(spec.server_pid)
    if pool is None:
        return []
    return pool.grow(spec.server_processes).pids[: spec.server_processes]


def stdio_transport(
    server_pid: int | None,
    command: Sequence[str],
    max_line_bytes: int = MAX_LINE_BYTES,
    *,
    processes: int = 1,
    front_end: str = "api",
) -> StdioTransport:
    """The transport for a spec: the running server (or pool) with `server_pid` that
    this process started, else servers of its own from `command`."""
    server: StdioServer | StdioPool | None = stdio_pool(server_pid) or stdio_server(server_pid)
    return StdioTransport(
        server,
        command=tuple(command),
        max_line_bytes=max_line_bytes,
        processes=processes,
        front_end=front_end,
    )
