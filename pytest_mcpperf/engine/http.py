"""HTTP/1.1 keep-alive client connections: asyncio Protocol + the httptools parser.

One request in flight per connection (no pipelining), so a response always belongs
to the request just written. Request bytes are pre-encoded by the caller; the
connection only writes them and parses the answer. A per-request deadline aborts the
connection (its byte stream is out of step once a response is late) and fails the
request with `RequestTimeout`.
"""

from __future__ import annotations

import asyncio
import json
import ssl as ssl_module
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

from pytest_mcpperf.engine.sse import SseDecoder, SseEvent
from pytest_mcpperf.errors import (
    ProtocolBreach,
    RequestError,
    RequestTimeout,
    ResponseTooLarge,
    TransportError,
)
from pytest_mcpperf.vocabulary import DEFAULT_MAX_RESPONSE_BYTES


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
    """A whole HTTP response.

    For an event stream, `events` holds only the JSON-RPC response to the request (one
    event, or none); notifications and other messages on the stream are counted in
    `notifications`, not kept. `last_event_id` is the stream's last `id:` (for
    resumption with `Last-Event-ID` when the stream ended without the response).
    """

    status: int
    headers: dict[str, str]
    body: bytes
    events: list[SseEvent] | None
    last_event_id: str | None = None
    notifications: int = 0


_KEPT_HEADERS = frozenset(
    (
        b"content-type",
        b"mcp-session-id",
        b"connection",
        b"retry-after",
        b"location",
        b"www-authenticate",
        b"content-encoding",
        b"content-length",
        b"transfer-encoding",
    )
)
#: How long an event stream may stay open after its answer before the answer is taken
#: and the connection dropped (uvloop timers tick in milliseconds).
STREAM_END_GRACE_S = 0.002
_DECODERS = {"gzip": 31, "x-gzip": 31, "deflate": 15}  # zlib wbits per content coding


def request_id(data: bytes) -> object:
    """The JSON-RPC id of a framed POST (None for a notification or a GET)."""
    body = data[data.find(b"\r\n\r\n") + 4 :]
    try:
        msg = json.loads(body) if body else None
    except ValueError:
        return None
    return msg.get("id") if isinstance(msg, dict) else None


def answer_to(data: str, rid: object) -> bool:
    """Whether SSE event data is the JSON-RPC response to `rid` (None: to any request)."""
    if '"result"' not in data and '"error"' not in data:
        return False  # a notification or a server request: no parse needed
    try:
        msg = json.loads(data)
    except ValueError:
        return False
    return (
        isinstance(msg, dict)
        and "method" not in msg
        and ("result" in msg or "error" in msg)
        and (rid is None or msg.get("id") == rid)
    )


def decode_body(body: bytes, coding: str, limit: int) -> bytes:
    """Undo a gzip/deflate content coding, never past `limit` bytes."""
    wbits = _DECODERS.get(coding.strip().lower())
    if wbits is None:
        raise ProtocolBreach(
            "content_encoding",
            f"the body came with Content-Encoding {coding!r} though identity was asked for",
        )
    try:
        inflater = zlib.decompressobj(wbits)
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ProtocolBreach(
            "content_encoding", f"a {coding} body does not decode: {exc}"
        ) from None
    if len(out) > limit:
        raise ResponseTooLarge("body", f"the decoded body passed the limit of {limit} bytes")
    return out


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection; `request()` writes bytes and awaits the response.

    Field rules: 1xx interim responses are skipped; a body without a length ends when
    the connection closes; a body or SSE event over `max_response_bytes` fails the
    request (`too_large`) at once; an event stream resolves at the event carrying the
    response, and when the server leaves the stream open after it the connection is
    closed (a later request opens a new one) instead of waiting for the deadline.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    ) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Response] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._early: asyncio.TimerHandle | None = None
        self._max = max_response_bytes
        self._sent = b""
        self._rid: object = None
        self._rid_known = False
        self._reset_message()
        self.closed = False

    def _reset_message(self) -> None:
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._sse: SseDecoder | None = None
        self._answer: SseEvent | None = None
        self._notes = 0
        self._interim = False
        self._in_body = False

    # -- asyncio.Protocol -------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # pragma: no cover - we never upgrade
            self._fail(TransportError("bad_http", "unexpected protocol upgrade"))
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            self._fail(
                cause if isinstance(cause, RequestError) else TransportError("bad_http", str(exc))
            )
        except httptools.HttpParserError as exc:
            self._fail(TransportError("bad_http", f"bad HTTP response: {exc}"))
        else:
            if self._answer is not None and self._waiter is not None and self._early is None:
                # The answer came but the stream has not ended: most servers end it a
                # moment later (and the connection stays usable); give them that moment.
                self._early = self._loop.call_later(STREAM_END_GRACE_S, self._answered_early)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if exc is None and self._in_body and not self._length_known():
            self._complete()  # a close-delimited body: the close is its end
            return
        code = (
            "reset"
            if isinstance(exc, ConnectionResetError | BrokenPipeError)
            else ("tls" if isinstance(exc, ssl_module.SSLError) else "closed")
        )
        self._fail(TransportError(code, f"connection closed: {exc or 'by the server'}"))

    # -- httptools callbacks ----------------------------------------------------
    def on_message_begin(self) -> None:
        self._reset_message()

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.lower()
        if key in _KEPT_HEADERS:
            self._headers[key.decode()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        headers = self._headers
        if 100 <= self._parser.get_status_code() < 200:
            self._interim = True  # 103 Early Hints and kin: the answer is still to come
            return
        self._in_body = True
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self._max:
            raise ResponseTooLarge(
                "body", f"Content-Length {length} passes the limit of {self._max} bytes"
            )
        if headers.get("content-type", "").startswith("text/event-stream"):
            self._sse = SseDecoder(self._max)

    def on_body(self, body: bytes) -> None:
        sse = self._sse
        if sse is not None:
            for event in sse.feed(body):
                self._on_event(event)
            return
        self._body_bytes += len(body)
        if self._body_bytes > self._max:
            raise ResponseTooLarge("body", f"the body passed the limit of {self._max} bytes")
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self._complete()

    # -- responses ------------------------------------------------------------------
    def _on_event(self, event: SseEvent) -> None:
        if self._answer is None:
            if not self._rid_known:
                self._rid, self._rid_known = request_id(self._sent), True
            if answer_to(event.data, self._rid):
                self._answer = event
                return
        self._notes += 1  # counted, not kept: a flood must not grow memory

    def _response(self) -> Response:
        status = self._parser.get_status_code()
        sse = self._sse
        if sse is not None:
            if self._answer is None:
                for event in sse.feed(b"\n\n"):
                    self._on_event(event)
            events = [self._answer] if self._answer is not None else []
            return Response(status, self._headers, b"", events, sse.last_event_id, self._notes)
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._body = []
        coding = self._headers.get("content-encoding")
        if coding and coding.strip().lower() != "identity" and body:
            body = decode_body(body, coding, self._max)
        return Response(status, self._headers, body, None)

    def _complete(self) -> None:
        self._in_body = False
        try:
            resp = self._response()
        except RequestError as exc:
            self._fail(exc)
            return
        if self.closed or not self._parser.should_keep_alive():
            self.close()
        self._resolve(resp)

    def _answered_early(self) -> None:
        """The response arrived; the stream stays open: answer now, drop the stream."""
        self._early = None
        if self._waiter is None or self._answer is None or self._sse is None:
            return
        resp = Response(
            self._parser.get_status_code(),
            self._headers,
            b"",
            [self._answer] if self._answer is not None else [],
            self._sse.last_event_id,
            self._notes,
        )
        self._resolve(resp)
        self.abort()

    def _length_known(self) -> bool:
        h = self._headers
        return "content-length" in h or "chunked" in h.get("transfer-encoding", "").lower()

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
        self._sent, self._rid_known = data, False
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

    def _cancel_early(self) -> None:
        if self._early is not None:
            self._early.cancel()
            self._early = None

    def _resolve(self, resp: Response) -> None:
        self._cancel_early()
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if waiter is not None and not waiter.done():
            waiter.set_result(resp)

    def _fail(self, exc: Exception) -> None:
        # Drop what was buffered now: the connection and its parser refer to each other,
        # so without this a failed 16 MiB body would live until the cyclic GC ran.
        self._body, self._sse, self._sent = [], None, b""
        self._cancel_early()
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if not self.closed:
            self.abort()


async def connect(
    endpoint: Endpoint,
    *,
    timeout_s: float = 10.0,
    ssl: ssl_module.SSLContext | None = None,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> HttpConnection:
    """Open one connection (TLS when the endpoint is https); raise TransportError."""
    loop = asyncio.get_running_loop()
    ctx: Any = None
    if endpoint.tls:
        ctx = ssl if ssl is not None else ssl_module.create_default_context()
    try:
        _, proto = await asyncio.wait_for(
            loop.create_connection(
                lambda: HttpConnection(loop, max_response_bytes),
                endpoint.host,
                endpoint.port,
                ssl=ctx,
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
    if not any(k.lower() == "accept-encoding" for k in headers):
        lines.append("Accept-Encoding: identity")  # no coding to undo on the hot path
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

    def __init__(
        self,
        url: str,
        *,
        ssl: ssl_module.SSLContext | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.endpoint = Endpoint.parse(url)
        self.ssl = ssl
        self.max_response_bytes = max_response_bytes

    async def connect(self, timeout_s: float) -> HttpConnection:
        return await connect(
            self.endpoint,
            timeout_s=timeout_s,
            ssl=self.ssl,
            max_response_bytes=self.max_response_bytes,
        )

    def frame(self, method: str, headers: Mapping[str, str], body: bytes = b"") -> bytes:
        return encode_request(method, self.endpoint, headers, body)

    def template(self, headers: Mapping[str, str], before: bytes, after: bytes) -> HttpTemplate:
        return HttpTemplate(self.endpoint, headers, before, after)
