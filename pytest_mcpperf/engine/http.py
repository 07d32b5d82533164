"""HTTP/1.1 keep-alive client connections: asyncio Protocol + the httptools parser.

One request in flight per connection (no pipelining), so a response always belongs
to the request just written. Request bytes are pre-encoded by the caller; the
connection only writes them and parses the answer. A per-request deadline aborts the
connection (its byte stream is out of step once a response is late) and fails the
request with `RequestTimeout`.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

from pytest_mcpperf.engine.sse import SseDecoder, SseEvent
from pytest_mcpperf.errors import RequestTimeout, TransportError


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where requests go: parsed once from the target URL."""

    host: str
    port: int
    path: str
    tls: bool

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return cls(parts.hostname, port, path, tls)

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


@dataclass(slots=True)
class Response:
    """A whole HTTP response; SSE bodies come already decoded into `events`."""

    status: int
    headers: dict[str, str]
    body: bytes
    events: list[SseEvent] | None


_KEPT_HEADERS = frozenset((b"content-type", b"mcp-session-id", b"connection", b"retry-after"))


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection; `request()` writes bytes and awaits the response."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Response] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._sse: SseDecoder | None = None
        self._events: list[SseEvent] | None = None
        self.closed = False

    # -- asyncio.Protocol -------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # pragma: no cover - we never upgrade
            self._fail(TransportError("bad_http", "unexpected protocol upgrade"))
        except httptools.HttpParserError as exc:
            self._fail(TransportError("bad_http", f"bad HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        code = (
            "reset"
            if isinstance(exc, ConnectionResetError | BrokenPipeError)
            else ("tls" if isinstance(exc, ssl_module.SSLError) else "closed")
        )
        self._fail(TransportError(code, f"connection closed: {exc or 'by the server'}"))

    # -- httptools callbacks ----------------------------------------------------
    def on_message_begin(self) -> None:
        self._headers = {}
        self._body = []
        self._sse = None
        self._events = None

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.lower()
        if key in _KEPT_HEADERS:
            self._headers[key.decode()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self._headers.get("content-type", "").startswith("text/event-stream"):
            self._sse = SseDecoder()
            self._events = []

    def on_body(self, body: bytes) -> None:
        if self._sse is not None:
            assert self._events is not None
            self._events.extend(self._sse.feed(body))
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if self._sse is not None and self._events is not None:
            self._events.extend(self._sse.feed(b"\n\n"))
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        resp = Response(status, self._headers, body, self._events)
        if not self._parser.should_keep_alive():
            self.close()
        self._resolve(resp)

    # -- client API ---------------------------------------------------------------
    def request(self, data: bytes, deadline: float) -> asyncio.Future[Response]:
        """Write one pre-encoded request; the future resolves to its response.

        `deadline` is in `loop.time()` units.
        """
        waiter: asyncio.Future[Response] = self._loop.create_future()
        if self.closed or self._transport is None:
            waiter.set_exception(TransportError("closed", "connection is closed"))
            return waiter
        self._waiter = waiter
        self._timer = self._loop.call_at(deadline, self._on_timeout)
        self._transport.write(data)
        return waiter

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def _on_timeout(self) -> None:
        self._timer = None
        waiter, self._waiter = self._waiter, None
        self.abort()
        if waiter is not None and not waiter.done():
            waiter.set_exception(RequestTimeout("timeout", "no response before the deadline"))

    def _resolve(self, resp: Response) -> None:
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if waiter is not None and not waiter.done():
            waiter.set_result(resp)

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if not self.closed:
            self.abort()


async def connect(
    endpoint: Endpoint, *, timeout_s: float = 10.0, ssl: ssl_module.SSLContext | None = None
) -> HttpConnection:
    """Open one connection (TLS when the endpoint is https); raise TransportError."""
    loop = asyncio.get_running_loop()
    ctx: Any = None
    if endpoint.tls:
        ctx = ssl if ssl is not None else ssl_module.create_default_context()
    try:
        _, proto = await asyncio.wait_for(
            loop.create_connection(
                lambda: HttpConnection(loop), endpoint.host, endpoint.port, ssl=ctx
            ),
            timeout_s,
        )
    except (OSError, TimeoutError) as exc:
        raise TransportError(
            connect_error_code(exc),
            f"cannot connect to {endpoint.host}:{endpoint.port}: {exc or 'timed out'}",
        ) from exc
    return proto


def connect_error_code(exc: BaseException) -> str:
    """The report's transport code for a failed connect."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, TimeoutError):
        return "connect_timeout"
    if isinstance(exc, ssl_module.SSLError):
        return "tls"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    return "os_error"


def encode_request(
    method: str, endpoint: Endpoint, headers: Mapping[str, str], body: bytes = b""
) -> bytes:
    """Encode one whole request (for control-path requests that are sent once)."""
    lines = [f"{method} {endpoint.path} HTTP/1.1", f"Host: {endpoint.host_header}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _pct(data: bytes) -> bytes:
    return data.replace(b"%", b"%%")


class HttpTemplate:
    """A POST framed once: `encode(rid)` fills Content-Length and the id in one format."""

    __slots__ = ("_fixed_len", "_template")

    def __init__(
        self, endpoint: Endpoint, headers: Mapping[str, str], before: bytes, after: bytes
    ) -> None:
        head = encode_request("POST", endpoint, headers)
        head = head[: head.rindex(b"Content-Length:")]  # the length is the hole
        self._template = (
            _pct(head) + b"Content-Length: %d\r\n\r\n" + _pct(before) + b"%d" + _pct(after)
        )
        self._fixed_len = len(before) + len(after)

    def encode(self, rid: int) -> bytes:
        return self._template % (self._fixed_len + len(str(rid)), rid)


class HttpTransport:
    """MCP Streamable HTTP over keep-alive HTTP/1.1 connections (TLS for https)."""

    name = "http"

    def __init__(self, url: str, *, ssl: ssl_module.SSLContext | None = None) -> None:
        self.endpoint = Endpoint.parse(url)
        self.ssl = ssl

    async def connect(self, timeout_s: float) -> HttpConnection:
        return await connect(self.endpoint, timeout_s=timeout_s, ssl=self.ssl)

    def frame(self, method: str, headers: Mapping[str, str], body: bytes = b"") -> bytes:
        return encode_request(method, self.endpoint, headers, body)

    def template(self, headers: Mapping[str, str], before: bytes, after: bytes) -> HttpTemplate:
        return HttpTemplate(self.endpoint, headers, before, after)
