"""The bundled server over stdio: `python -m mcpperf_server --stdio`.

Newline-delimited JSON-RPC on stdin and stdout, the legacy era's handshake (2025-06-18 /
2025-11-25: `initialize`, then `notifications/initialized`), the same methods and tools
as over HTTP (`methods`), one session for the whole process. Logs go to stderr; the
process's fd 1 is pointed at stderr too once the protocol has its own copy, so a stray
print can never corrupt the stream.

Requests are handled concurrently: a tool that waits runs in a task of its own and is
answered when done, so many requests are in flight at once and answers come out of
order, matched by id; work that never waits (ping, tools/list, fast tools) is answered
at once. Every answer is one `write` of one whole line on the one stdout transport, so
lines never interleave. The HTTP caps apply: `--max-in-flight` requests at once, the CPU
pool's queue, the memory budget; over a cap the request gets a JSON-RPC -32000 error at
once. When the client stops reading stdout, the server stops reading stdin (memory stays
bounded).

Hostile input gets a JSON-RPC error and the server stays up: a line that is not JSON
(-32700, id null), a batch, a non-object or a message without a method (-32600), a line
longer than `--max-body-bytes` (-32600; the rest of the line is discarded unread), bad
arguments and bombs (-32602, from the tools' own validation). End of stdin, SIGTERM or
SIGINT stop the server: the work in flight is cancelled (each such request answered
with -32000 while stdout is open), then it exits with status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from . import methods
from .config import ServerConfig
from .protocol import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    REQUEST_CANCELLED,
    Json,
    JsonId,
    RpcError,
    busy,
    encode,
    result_body,
)
from .sessions import Session
from .state import ServerState
from .tools import DropConnection, Tool, ToolContext
from .wire import Message

log = logging.getLogger("mcpperf_server")

Send = Callable[[bytes], None]


def _id_of(raw: Any) -> JsonId:
    """The id to answer a message that could not be handled with (null if it has none)."""
    msg_id = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(msg_id, str) or (isinstance(msg_id, int) and not isinstance(msg_id, bool)):
        return msg_id
    return None


class Endpoint:
    """The JSON-RPC side of the stdio server: one line in, zero or more lines out."""

    def __init__(self, state: ServerState, send: Send) -> None:
        self.state = state
        self.tools = state.tools
        self.stats = state.stats
        self.send = send
        self.session: Session | None = None
        self.ctx: ToolContext = state.context()
        self.ctx.sessions_live = lambda: 0 if self.session is None else 1
        self.tasks: dict[asyncio.Task[None], JsonId] = {}
        self.closing = False

    # -- one line ----------------------------------------------------------------------
    def on_line(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            raw = json.loads(line)
        except (ValueError, RecursionError) as exc:
            err = RpcError(PARSE_ERROR, f"Parse error: {type(exc).__name__}: {exc}"[:200])
            self.send(err.to_body(None))
            return
        if isinstance(raw, dict) and "method" not in raw and ("result" in raw or "error" in raw):
            return  # a response: this server sends no requests, so there is nothing to match
        try:
            msg = Message(raw)
        except RpcError as err:
            if isinstance(raw, list):
                err.message = "JSON-RPC batches are not supported: send one message per line"
            self.send(err.to_body(_id_of(raw)))
            return
        if not msg.has_id:
            self.notification(msg)
        else:
            self.request(msg)

    def line_too_long(self, limit: int) -> None:
        err = RpcError(
            INVALID_REQUEST,
            f"message line over {limit} bytes, discarded; send smaller messages or raise "
            "--max-body-bytes",
        )
        self.send(err.to_body(None))

    def notification(self, msg: Message) -> None:
        if self.session is None:
            return
        if msg.method == "notifications/initialized":
            self.session.initialized = True
        elif msg.method == "notifications/cancelled":
            methods.cancel(self.session, msg.params)

    # -- one request -------------------------------------------------------------------
    def request(self, msg: Message) -> None:
        stats = self.stats
        cap = self.state.config.max_in_flight
        if stats.in_flight >= cap or self.closing:
            why = (
                "the server is shutting down"
                if self.closing
                else f"{stats.in_flight} requests in flight (cap {cap}); retry later or "
                "raise --max-in-flight"
            )
            self.send(busy(why).to_body(msg.id))
            return
        tool = self._tool(msg)
        if tool is not None and tool.is_async:
            stats.begin()
            task = asyncio.get_running_loop().create_task(self.answer_later(msg, tool))
            self.tasks[task] = msg.id
            task.add_done_callback(self._forget)
            return
        stats.begin()
        start = time.perf_counter()
        ok = False
        try:
            body = self.answer_now(msg, tool)
            ok = True
        except RpcError as err:
            body = err.to_body(msg.id)
        except Exception:  # a bug must cost one request, never the server
            log.exception("unexpected error handling %s", msg.method)
            body = RpcError(INTERNAL_ERROR, "Internal error").to_body(msg.id)
        finally:
            stats.end(tool.name if tool else None, time.perf_counter() - start, ok)
        self.send(body)

    def _tool(self, msg: Message) -> Tool | None:
        if msg.method != "tools/call" or self.session is None:
            return None
        name = msg.params.get("name")
        return self.tools.get(name) if isinstance(name, str) else None

    def _forget(self, task: asyncio.Task[None]) -> None:
        self.tasks.pop(task, None)

    def answer_now(self, msg: Message, tool: Tool | None) -> bytes:
        """Methods that never wait, and the tools that never do."""
        method = msg.method
        if method == "initialize":
            result = methods.initialize_result(msg.params)
            if self.session is None:
                self.session = Session("stdio", result["protocolVersion"], time.monotonic())
            else:
                self.session.protocol_version = result["protocolVersion"]
            self.ctx.session = self.session
            return result_body(msg.id, result)
        if method == "ping":
            return result_body(msg.id, {})
        session = self.session
        if session is None:
            if method in ("tools/list", "tools/call", "logging/setLevel"):
                raise RpcError(
                    INVALID_REQUEST,
                    f"{method} before initialize: send initialize first, then "
                    "notifications/initialized",
                )
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")
        if method == "tools/list":
            return result_body(msg.id, methods.tools_list_result(self.tools, msg.params, False))
        if method == "logging/setLevel":
            return result_body(msg.id, methods.set_level(session, msg.params))
        if method == "tools/call":
            found, args = methods.find_tool(self.tools, msg.params)
            return result_body(msg.id, methods.call_sync(found, args, self.ctx))
        raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")

    async def answer_later(self, msg: Message, tool: Tool) -> None:
        """A tool that waits (CPU pool, sleep, memory): answered when it is done."""
        start = time.perf_counter()
        ok = False
        body: bytes | None
        try:
            body = result_body(msg.id, await self.call(msg))
            ok = True
        except RpcError as err:
            # A request the client cancelled gets no answer (it no longer waits for one).
            body = None if err.code == REQUEST_CANCELLED else err.to_body(msg.id)
        except DropConnection:
            body = RpcError(
                INTERNAL_ERROR,
                "error_simulation 'disconnect' drops an HTTP connection; over stdio the "
                "process's only stream stays open, so it is answered as an internal error",
            ).to_body(msg.id)
        except asyncio.CancelledError:
            body = busy("the server is shutting down; the request was cancelled").to_body(msg.id)
        except Exception:
            log.exception("unexpected error in tools/call %s", tool.name)
            body = RpcError(INTERNAL_ERROR, "Internal error").to_body(msg.id)
        finally:
            self.stats.end(tool.name, time.perf_counter() - start, ok)
        if body is not None:
            self.send(body)

    async def call(self, msg: Message) -> Json:
        tool, args = methods.find_tool(self.tools, msg.params)
        ctx = self.ctx
        token = methods.progress_token(msg.params)
        if token is not None and tool.long:
            ctx = replace(ctx, progress=self._progress(token))
        if tool.long:
            return await methods.call_cancellable(tool, args, ctx, msg.id)
        return await methods.call_tool(tool, args, ctx)

    def _progress(self, token: Any) -> Any:
        async def progress(done: float, total: float | None, message: str | None) -> None:
            self.send(encode(methods.progress_notification(token, done, total, message)))

        return progress

    # -- the end -----------------------------------------------------------------------
    async def cancel_all(self) -> None:
        """Cancel every request in flight; each is answered (-32000) while stdout is open."""
        self.closing = True
        work = list(self.tasks)
        for task in work:
            task.cancel()
        if self.session is not None:
            for inner in list(self.session.inflight.values()):
                inner.cancel()
        if work:
            await asyncio.wait(work, timeout=5.0)


class LineReader(asyncio.Protocol):
    """Splits stdin into lines; a line over `limit` bytes is reported once and skipped."""

    def __init__(
        self, on_line: Callable[[bytes], None], on_too_long: Callable[[], None], limit: int
    ) -> None:
        self.on_line = on_line
        self.on_too_long = on_too_long
        self.limit = limit
        self.buffer = bytearray()
        self.skipping = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            if self.skipping:
                self.skipping = False
            elif end - start > self.limit:
                self.on_too_long()
            else:
                self.on_line(bytes(buffer[start:end]))
            start = end + 1
        del buffer[:start]
        if len(buffer) > self.limit:
            buffer.clear()
            if not self.skipping:
                self.skipping = True
                self.on_too_long()

    def eof_received(self) -> bool | None:
        if self.buffer and not self.skipping:  # a last line without its newline
            self.on_line(bytes(self.buffer))
        self.buffer.clear()
        self._finish()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


class LineWriter(asyncio.Protocol):
    """The one writer of stdout. When the client stops reading, stdin reading pauses."""

    def __init__(self) -> None:
        self.transport: asyncio.WriteTransport | None = None
        self.reader: asyncio.ReadTransport | None = None
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def send(self, body: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(body + b"\n")

    def pause_writing(self) -> None:
        if self.reader is not None:
            self.reader.pause_reading()

    def resume_writing(self) -> None:
        if self.reader is not None:
            self.reader.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.gone.done():
            self.gone.set_result(None)

    async def close(self, timeout_s: float) -> None:
        """Close stdout once what is buffered has been written (or `timeout_s` passed)."""
        if self.transport is None:
            return
        self.transport.close()  # a pipe transport writes its buffer out, then closes
        if not isinstance(self.transport, _FileWriteTransport):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.gone), timeout_s)


class _FileWriteTransport(asyncio.WriteTransport):
    """stdout on a file, a terminal or /dev/null (nothing to poll): blocking writes."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


def _pollable(fd: int) -> bool:
    """A pipe or a socket (what a spawner gives); files, ttys and /dev/null are not
    polled (epoll refuses files, and uvloop aborts on them)."""
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


async def _open_reader(
    loop: asyncio.AbstractEventLoop, fd: int, reader: LineReader
) -> asyncio.ReadTransport | None:
    """stdin as a pipe transport, or (a file, a terminal) read by a thread."""
    if _pollable(fd):
        pipe = os.fdopen(fd, "rb", buffering=0, closefd=False)
        transport, _ = await loop.connect_read_pipe(lambda: reader, pipe)
        return transport

    def pump() -> None:
        while chunk := os.read(fd, 65536):
            loop.call_soon_threadsafe(reader.data_received, chunk)
        loop.call_soon_threadsafe(reader.eof_received)

    threading.Thread(target=pump, name="mcpperf-stdin", daemon=True).start()
    return None


async def _open_writer(loop: asyncio.AbstractEventLoop, fd: int, writer: LineWriter) -> None:
    if _pollable(fd):
        pipe = os.fdopen(fd, "wb", buffering=0)
        transport, _ = await loop.connect_write_pipe(lambda: writer, pipe)
        writer.transport = transport
    else:
        writer.transport = _FileWriteTransport(fd)


def _take_stdout() -> int:
    """A private copy of fd 1 for the protocol; fd 1 itself then points at stderr."""
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    return fd


def announce() -> None:
    print(f"mcpperf-server serving MCP on stdio (pid {os.getpid()})", file=sys.stderr, flush=True)


async def serve_stdio(config: ServerConfig) -> None:
    """Serve MCP on this process's stdin and stdout until stdin ends or a signal comes."""
    loop = asyncio.get_running_loop()
    state = ServerState(config)
    writer = LineWriter()
    endpoint = Endpoint(state, writer.send)
    limit = config.max_body_bytes
    reader = LineReader(endpoint.on_line, lambda: endpoint.line_too_long(limit), limit)
    stop: asyncio.Future[None] = loop.create_future()

    def on_signal() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)
    await _open_writer(loop, _take_stdout(), writer)
    announce()
    writer.reader = await _open_reader(loop, 0, reader)
    await asyncio.wait({reader.done, writer.gone, stop}, return_when=asyncio.FIRST_COMPLETED)
    if writer.reader is not None:
        writer.reader.close()
    await endpoint.cancel_all()
    await writer.close(2.0)
    await state.stop()
