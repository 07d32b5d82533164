"""Field behaviour: each test builds a small misbehaving server and asserts the outcome.

`HostileServer` speaks just enough HTTP/1.1 and MCP (2026-07-28 `server/discover`, or
the 2025-11-25 `initialize` handshake) on 127.0.0.1, from a thread with its own loop.
A test gives it `answer(server, request) -> bytes | None`: the raw bytes written for a
tools/call (None: write nothing), and `after` says whether the connection then stays
open, is closed, or is left hanging. Every run is short and bounded by its timeout.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_mcpperf.analysis.criteria import assert_p99, assert_throughput
from pytest_mcpperf.engine.report import text_block
from pytest_mcpperf.engine.runner import run
from pytest_mcpperf.errors import TargetError
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import free_port

pytestmark = pytest.mark.e2e


@dataclass
class Request:
    method: str
    headers: dict[str, str]
    body: bytes

    @property
    def msg(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.body) if self.body else {}
        return out


Answer = Callable[["HostileServer", Request], bytes | None]


def http(
    status: int = 200,
    body: bytes = b"",
    *,
    content_type: str = "application/json",
    extra: dict[str, str] | None = None,
    length: bool = True,
    version: str = "HTTP/1.1",
) -> bytes:
    head = [f"{version} {status} X", f"Content-Type: {content_type}"]
    head += [f"{k}: {v}" for k, v in (extra or {}).items()]
    if length:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def reply(req: Request, result: dict[str, Any] | None = None) -> bytes:
    rid = req.msg["id"]
    return json.dumps({"jsonrpc": "2.0", "id": rid, "result": result or {"content": []}}).encode()


def sse_event(data: bytes, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n".encode() if event_id is not None else b""
    return head + b"data: " + data + b"\n\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


@dataclass
class HostileServer:
    answer: Answer
    legacy: bool = False
    close_after: bool = False  # close the connection after each tools/call answer
    setup_status: int = 200  # answer setup (discover / initialize) with this status
    setup_headers: dict[str, str] = field(default_factory=dict)
    reset_setup_once_at: int = 0  # reset the connection of the N-th setup request, once
    stop_listening_after: int = 0  # after the N-th tools/call, refuse new connections
    calls: int = 0
    setups: int = 0
    seen: list[Request] = field(default_factory=list)
    pending: dict[str, bytes] = field(default_factory=dict)  # event id -> answer to replay
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def __enter__(self) -> HostileServer:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(5.0)
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        assert loop is not None
        loop.call_soon_threadsafe(self._stop)
        self._thread.join(5.0)

    def _stop(self) -> None:
        assert self._server is not None
        assert self._loop is not None
        self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        self._loop.stop()

    def _main(self, ready: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        self._server = loop.run_until_complete(asyncio.start_server(self._conn, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        loop.run_forever()
        loop.run_until_complete(self._shutdown())
        loop.close()

    async def _shutdown(self) -> None:
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert self._server is not None
        await self._server.wait_closed()

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                req = await self._read(reader)
                if req is None:
                    return
                out = self._respond(req)
                if out == b"RESET":
                    writer.transport.abort()
                    return
                if isinstance(out, bytes):
                    writer.write(out)
                    await writer.drain()
                elif out is not None:  # an async stream of pieces
                    async for piece in out:
                        writer.write(piece)
                        await writer.drain()
                if self.close_after and req.msg.get("method") == "tools/call":
                    writer.close()
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.transport.abort()  # hostile to the end: no graceful close

    async def _read(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method = lines[0].split(" ")[0]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Request(method, headers, body)

    def _respond(self, req: Request) -> Any:
        if len(self.seen) < 100:
            self.seen.append(req)
        if req.method == "DELETE":
            return http(200)
        if req.method == "GET":
            return self.answer(self, req)
        msg = req.msg
        if "id" not in msg:
            return http(202)
        rpc = msg["method"]
        if rpc in ("server/discover", "initialize"):
            self.setups += 1
            if self.setups == self.reset_setup_once_at:
                return b"RESET"
            if self.setup_status != 200:
                return http(self.setup_status, b"no", extra=self.setup_headers)
            if rpc == "server/discover" and self.legacy:
                return http(404, b"")
            result = (
                {"supportedVersions": ["2026-07-28"], "serverInfo": {"name": "hostile"}}
                if rpc == "server/discover"
                else {"protocolVersion": "2025-11-25", "serverInfo": {"name": "hostile"}}
            )
            extra = {"Mcp-Session-Id": "s1"} if rpc == "initialize" else {}
            return http(200, reply(req, result), extra=extra)
        if rpc == "tools/call":
            self.calls += 1
            if self.calls == self.stop_listening_after and self._server is not None:
                self._server.close()  # open connections stay; new ones are refused
            return self.answer(self, req)
        return http(200, reply(req, {}))


def spec(url: str, **kw: Any) -> LoadSpec:
    base: dict[str, Any] = {
        "rate": 50.0,
        "duration_s": 1.0,
        "concurrency": 4,
        "timeout_s": 3.0,
        "tool": "t",
        "arguments": {},
    }
    base.update(kw)
    return LoadSpec(url=url, **base)


def errors_of(result: LoadResult) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = result.to_dict()["errors_by_code"]
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# -- item 2: an SSE answer, and the stream stays open ---------------------------------
def test_sse_stream_left_open_resolves_at_the_answer() -> None:
    def answer(srv: HostileServer, req: Request) -> bytes:
        note = b'{"jsonrpc":"2.0","method":"notifications/progress","params":{}}'
        return SSE_HEAD + chunk(sse_event(note) + sse_event(reply(req)))  # never ends

    with HostileServer(answer) as srv:
        result = run(spec(srv.url, timeout_s=5.0))
    assert result.requests.ok == 50, errors_of(result)
    assert result.latency_ms.p99 < 500.0  # the answer's time, not the 5 s timeout


# -- item 3: SSE resumption with Last-Event-ID (2025-11-25) ---------------------------
def test_sse_stream_closed_after_priming_is_resumed_with_last_event_id() -> None:
    def answer(srv: HostileServer, req: Request) -> bytes:
        if req.method == "GET":
            body = srv.pending.pop(req.headers.get("last-event-id", ""), b"")
            return SSE_HEAD + chunk(sse_event(body, "e2")) + b"0\r\n\r\n"
        event_id = f"ev{srv.calls}"
        srv.pending[event_id] = reply(req)
        return SSE_HEAD + chunk(b"id: " + event_id.encode() + b"\ndata:\n\n") + b"0\r\n\r\n"

    with HostileServer(answer, legacy=True) as srv:
        result = run(spec(srv.url, protocol="legacy"))
        gets = [r for r in srv.seen if r.method == "GET"]
    assert result.requests.ok == 50, errors_of(result)
    assert gets
    assert gets[0].headers["mcp-session-id"] == "s1"
    assert gets[0].headers["last-event-id"].startswith("ev")


# -- item 4: bodies that end when the connection closes -------------------------------
@pytest.mark.parametrize("kind", ["http10_json", "sse_connection_close"])
def test_close_delimited_bodies_are_read_to_the_close(kind: str) -> None:
    def answer(srv: HostileServer, req: Request) -> bytes:
        if kind == "http10_json":
            return http(200, reply(req), length=False, version="HTTP/1.0")
        return http(
            200,
            sse_event(reply(req)),
            content_type="text/event-stream",
            extra={"Connection": "close"},
            length=False,
        )

    with HostileServer(answer, close_after=True) as srv:
        result = run(spec(srv.url))
    assert result.requests.ok == 50, errors_of(result)


# -- item 5: unbounded answers --------------------------------------------------------
def test_a_200_mb_answer_is_too_large_without_buffering_it() -> None:
    def answer(srv: HostileServer, req: Request) -> Any:
        async def pieces() -> Any:
            yield b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            yield b"Transfer-Encoding: chunked\r\n\r\n"
            piece = chunk(b"x" * (1 << 20))
            for _ in range(200):
                yield piece

        return pieces()

    before = peak_rss_mb()
    with HostileServer(answer) as srv:
        t0 = time.monotonic()
        result = run(spec(srv.url, rate=10.0, concurrency=2, max_response_bytes=8 << 20))
        took = time.monotonic() - t0
    assert result.requests.ok == 0
    assert errors_of(result)["too_large"] == {"body": 10}
    assert took < 1.0 + 3.0 + 2.0
    # at most a limit's worth per connection at a time; failed bodies are not kept
    # (10 kept bodies would be 80 MB)
    assert peak_rss_mb() - before < 40.0


def test_a_declared_length_over_the_limit_fails_at_the_headers() -> None:
    def answer(srv: HostileServer, req: Request) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Length: 200000000\r\n\r\n"

    with HostileServer(answer) as srv:
        result = run(spec(srv.url, rate=20.0))
    assert errors_of(result)["too_large"] == {"body": 20}


@pytest.mark.parametrize("flood", ["notifications", "one_endless_event"])
def test_an_endless_sse_stream_stays_bounded(flood: str) -> None:
    note = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"' + b"n" * 4000
    note += b'"}}'

    def answer(srv: HostileServer, req: Request) -> Any:
        async def pieces() -> Any:
            yield SSE_HEAD
            piece = chunk(sse_event(note) * 64 if flood == "notifications" else b"data: " + note)
            for _ in range(20_000):  # 5 GB at most; the client gives up long before
                yield piece
                await asyncio.sleep(0)

        return pieces()

    before = peak_rss_mb()
    with HostileServer(answer) as srv:
        result = run(
            spec(
                srv.url,
                rate=4.0,
                concurrency=4,
                timeout_s=1.5,
                duration_s=1.0,
                max_response_bytes=1 << 20,
            )
        )
    errors = errors_of(result)
    if flood == "notifications":
        assert errors == {"timeout": {"timeout": 4}}  # counted, never kept: it times out
    else:
        assert errors == {"too_large": {"sse_event": 4}}
    assert peak_rss_mb() - before < 60.0


# -- item 6: 1xx interim responses ---------------------------------------------------
def test_103_early_hints_then_200_is_ok() -> None:
    def answer(srv: HostileServer, req: Request) -> bytes:
        hints = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        return hints + http(200, reply(req))

    with HostileServer(answer) as srv:
        result = run(spec(srv.url))
    assert result.requests.ok == 50, errors_of(result)


# -- item 9: protocol breaches and content codings -------------------------------------
@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"id": %d, "result": {}}', "no_jsonrpc"),
        (b'{"jsonrpc": "2.0", "id": %d}', "no_result"),
        (b'{"jsonrpc": "2.0", "id": "x%d", "result": {}}', "wrong_id"),
        (b"<html>%d</html>", "invalid_json"),
    ],
)
def test_a_json_rpc_breach_is_counted_as_protocol(body: bytes, code: str) -> None:
    def answer(srv: HostileServer, req: Request) -> bytes:
        return http(200, body % req.msg["id"])

    with HostileServer(answer) as srv:
        result = run(spec(srv.url, rate=20.0))
    assert errors_of(result) == {"protocol": {code: 20}}


def test_identity_is_asked_for_and_a_gzip_body_is_decoded() -> None:
    def answer(srv: HostileServer, req: Request) -> bytes:
        return http(200, gzip.compress(reply(req)), extra={"Content-Encoding": "gzip"})

    with HostileServer(answer) as srv:
        result = run(spec(srv.url, rate=20.0))
        call = next(r for r in srv.seen if r.msg.get("method") == "tools/call")
    assert call.headers["accept-encoding"] == "identity"
    assert result.requests.ok == 20, errors_of(result)


def test_a_coding_not_asked_for_is_a_protocol_error() -> None:
    def answer(srv: HostileServer, req: Request) -> bytes:
        return http(200, b"\x00garbled", extra={"Content-Encoding": "br"})

    with HostileServer(answer) as srv:
        result = run(spec(srv.url, rate=20.0))
    assert errors_of(result) == {"protocol": {"content_encoding": 20}}


# -- item 2's accounting: a request whose connection cannot be opened ----------------
def test_a_request_whose_reconnect_is_refused_is_counted_never_sent() -> None:
    def answer(srv: HostileServer, req: Request) -> bytes:
        return http(200, reply(req))

    # Each answer closes its connection; after the 10th the server stops listening, so
    # every later request fails to connect: transport/refused, and never sent.
    with HostileServer(answer, close_after=True, stop_listening_after=10) as srv:
        result = run(spec(srv.url, rate=40.0, concurrency=2))
    req = result.requests
    assert req.scheduled == 40
    assert req.ok == 10, errors_of(result)
    refused = errors_of(result)["transport"]["refused"]
    assert req.not_sent == refused == 30
    assert req.scheduled == req.sent + req.not_sent, dict(req)
    text = text_block(result.to_dict())  # type: ignore[arg-type]
    assert "Requests not sent: 30 (due, never sent" in text
    assert "transport: 30 (refused 30)" in text


# -- item 10: a reset during one user's handshake --------------------------------------
def test_one_reset_during_a_users_handshake_does_not_abort_the_run() -> None:
    def answer(srv: HostileServer, req: Request) -> bytes:
        return http(200, reply(req))

    with HostileServer(answer, reset_setup_once_at=3) as srv:
        result = run(spec(srv.url, pattern="concurrent", users=5, duration_s=0.5))
    assert result.requests.ok > 0
    assert result.requests.failed == 0


# -- items 11 and 13: nothing succeeded ------------------------------------------------
def test_checks_fail_and_the_text_block_is_true_when_nothing_succeeded() -> None:
    def answer(srv: HostileServer, req: Request) -> bytes:
        return http(503, b"busy")

    with HostileServer(answer) as srv:
        result = run(spec(srv.url, rate=30.0))
    with pytest.raises(AssertionError, match=r"no successful responses: 30 failed \(by class"):
        assert_p99(result, 100.0)
    with pytest.raises(AssertionError, match="no successful responses"):
        assert_throughput(result, 1.0)
    text = text_block(result.to_dict())  # type: ignore[arg-type]
    assert "Requests completed: 30 (100.0%)" in text
    assert "Requests ok: 0 (0.0%)" in text
    assert "http_error: 30 (503 30)" in text


# -- item 14: authentication and redirects during setup ----------------------------------
@pytest.mark.parametrize(
    ("status", "headers", "words"),
    [
        (401, {"WWW-Authenticate": 'Bearer realm="mcp"'}, ["HTTP 401", "authentication", "Bearer"]),
        (403, {}, ["HTTP 403", "refuses"]),
        (307, {"Location": "http://127.0.0.1:1/elsewhere"}, ["redirect", "/elsewhere"]),
    ],
)
def test_setup_says_authentication_or_where_a_redirect_points(
    status: int, headers: dict[str, str], words: list[str]
) -> None:
    def answer(srv: HostileServer, req: Request) -> bytes:
        return http(200, reply(req))

    with (
        HostileServer(answer, setup_status=status, setup_headers=headers) as srv,
        pytest.raises(TargetError) as info,
    ):
        run(spec(srv.url))
    for word in words:
        assert word in str(info.value)


# -- item 7: a spawned server that dies mid-run ----------------------------------------
DYING_SERVER = r"""
import asyncio, json, os, sys

calls = 0

async def conn(reader, writer):
    global calls
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        length = 0
        for line in head.decode().split("\r\n"):
            if line.lower().startswith("content-length:"):
                length = int(line.split(":")[1])
        body = json.loads(await reader.readexactly(length)) if length else {}
        if "id" not in body:
            writer.write(b"HTTP/1.1 202 X\r\nContent-Length: 0\r\n\r\n")
            continue
        if body["method"] == "tools/call":
            calls += 1
            if calls == 20:
                print("dying now: out of patience", flush=True)
                os._exit(3)
        result = {"supportedVersions": ["2026-07-28"], "content": []}
        out = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": result}).encode()
        head = "HTTP/1.1 200 X\r\nContent-Type: application/json\r\n"
        writer.write(f"{head}Content-Length: {len(out)}\r\n\r\n".encode() + out)

async def main():
    server = await asyncio.start_server(conn, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()

asyncio.run(main())
"""


def test_a_spawned_server_dying_mid_run_is_reported_and_fails_the_run(tmp_path: Path) -> None:
    script = tmp_path / "dying_server.py"
    script.write_text(DYING_SERVER)
    cmd = f"{sys.executable} {script} {{port}}"
    args = ["--server-cmd", cmd, "--duration-seconds", "1.5", "client", "throughput"]
    args += ["--requests-per-second", "40", "--timeout-seconds", "1", "--tool", "t"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_mcpperf.cli", *args, "--arguments", "{}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Server alive: NO - it died during the run (exit status 3)" in proc.stdout
    assert "dying now: out of patience" in proc.stdout
    assert "the server died during the run" in proc.stderr
    assert "end 0.0 MB" not in proc.stdout


# -- item 12: a wrong --mcp-url fails fast in pytest --------------------------------------
def test_a_wrong_mcp_url_fails_fast_in_pytest(tmp_path: Path) -> None:
    (tmp_path / "test_it.py").write_text(
        "import pytest\n\n@pytest.mark.load(rate=10, duration=1)\n"
        "def test_it(perf_client):\n    perf_client.run()\n"
    )
    dead = f"http://127.0.0.1:{free_port()}/mcp"  # nothing listens there
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--mcp-url={dead}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    took = time.monotonic() - t0
    assert proc.returncode != 0
    assert "cannot reach the MCP server" in proc.stdout + proc.stderr
    assert took < 10.0  # 2 s of reach probing and pytest's own start-up, not 20 s
