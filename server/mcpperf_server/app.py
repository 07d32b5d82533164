"""The HTTP layer: one Quart app, one endpoint `/mcp`, both protocol eras.

Per POST: guard Host/Origin -> read the body (size-limited) -> parse one JSON-RPC message ->
pick the era (2026-07-28 if its version header or `_meta` says so, else legacy) -> check
that era's headers / session -> run the method -> JSON, or SSE when the call asked for
progress. Nothing is logged per request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from quart import Quart, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from . import methods
from .broadcast import legacy_render, listen_render
from .config import ServerConfig
from .protocol import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    LEGACY_VERSIONS,
    META_SUBSCRIPTION,
    META_VERSION,
    METHOD_NOT_FOUND,
    MODERN_VERSIONS,
    PARSE_ERROR,
    SESSION_ERROR,
    Json,
    JsonId,
    RpcError,
    busy,
    encode,
    notification,
    result_body,
    sse_event,
    sse_raw,
)
from .sessions import LOG_LEVELS, Session
from .state import ServerState
from .tools import DropConnection, ToolContext
from .wire import (
    H_HOST,
    H_ORIGIN,
    H_SESSION,
    H_VERSION,
    JSON,
    SESSION_HEADER,
    SSE_HEADERS,
    Headers,
    Message,
    accepted,
    check_modern_headers,
    error_response,
    json_response,
    parse,
    request_headers,
    unsupported,
)

log = logging.getLogger("mcpperf_server")

LOUD_ENOUGH = frozenset(LOG_LEVELS[: LOG_LEVELS.index("info") + 1])


class Endpoint:
    """The `/mcp` request handlers bound to one `ServerState`."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.tools = state.tools
        self.stats = state.stats
        self.shared_ctx = state.context()  # session-less calls share one; SSE calls copy it

    # -- POST ------------------------------------------------------------------------
    async def post(self) -> Response:
        headers = request_headers()
        refused = self.guard(headers)
        if refused is not None:
            return refused
        stats = self.stats
        if stats.in_flight >= self.state.config.max_in_flight:
            return error_response(
                busy(
                    f"{stats.in_flight} requests in flight (cap "
                    f"{self.state.config.max_in_flight}); retry later or "
                    "raise --max-in-flight"
                )
            )
        stats.begin()
        start = time.perf_counter()
        tool: str | None = None
        msg_id: JsonId = None
        ok = False
        try:
            msg = parse(await self.body())
            msg_id = msg.id
            if msg.method == "tools/call":
                name = msg.params.get("name")
                tool = name if isinstance(name, str) and name in self.tools else None
            response = await self.route(msg, headers)
            ok = response.status_code < 400
            return response
        except RpcError as err:
            return error_response(err, msg_id)
        except Exception:  # a bug must cost one request, never the server
            log.exception("unexpected error handling a POST")
            return error_response(RpcError(INTERNAL_ERROR, "Internal error", status=500), msg_id)
        finally:
            stats.end(tool, time.perf_counter() - start, ok)

    def guard(self, headers: Headers) -> Response | None:
        guard = self.state.guard
        if not guard.host_ok(headers.get(H_HOST)):
            return error_response(
                RpcError(
                    INVALID_REQUEST,
                    "Host header not allowed (DNS "
                    "rebinding defence); connect via 127.0.0.1/localhost or "
                    "start the server with --allow-host",
                    status=421,
                )
            )
        if not guard.origin_ok(headers.get(H_ORIGIN)):
            return error_response(
                RpcError(
                    INVALID_REQUEST,
                    "Origin not allowed; only loopback origins may call this server",
                    status=403,
                )
            )
        return None

    async def body(self) -> bytes:
        limit = self.state.config.max_body_bytes
        length = request.content_length
        too_big = RpcError(
            INVALID_REQUEST,
            f"request body over {limit} bytes; send smaller messages or raise --max-body-bytes",
            status=413,
        )
        if length is not None and length > limit:
            raise too_big
        body = request.body
        done = getattr(body, "_complete", None)
        try:
            if isinstance(done, asyncio.Event) and done.is_set():
                # Already all here (the usual case): skip get_data's wait_for, which costs a
                # task and a timer per request. Bodies still arriving keep the timeout.
                data: bytes = await body
                return data
            return await request.get_data(cache=False, as_text=False, parse_form_data=False)
        except RequestEntityTooLarge:
            raise too_big from None

    async def route(self, msg: Message, headers: Headers) -> Response:
        version = headers.get(H_VERSION)
        meta = msg.params.get("_meta")
        if version in MODERN_VERSIONS or (
            isinstance(meta, dict) and meta.get(META_VERSION) in MODERN_VERSIONS
        ):
            return await self.modern(msg, headers)
        if version is not None and version not in LEGACY_VERSIONS:
            raise unsupported(version)
        return await self.legacy(msg, headers)

    # -- 2026-07-28 -------------------------------------------------------------------
    async def modern(self, msg: Message, headers: Headers) -> Response:
        check_modern_headers(msg, headers)
        method = msg.method
        if not msg.has_id:
            return accepted()
        if method == "tools/call":
            return await self.tools_call(msg, self.shared_ctx, modern=True)
        if method == "tools/list":
            result = methods.tools_list_result(self.tools, msg.params, modern=True)
        elif method == "server/discover":
            result = methods.discover_result()
        elif method == "subscriptions/listen":
            return self.listen(msg)
        else:
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}", status=404)
        return json_response(result_body(msg.id, result))

    # -- legacy (2025-06-18 / 2025-11-25) ---------------------------------------------
    async def legacy(self, msg: Message, headers: Headers) -> Response:
        if msg.method == "initialize":
            return self.initialize(msg)
        session = self.session_for(headers)
        if not msg.has_id:
            if msg.method == "notifications/initialized":
                session.initialized = True
            elif msg.method == "notifications/cancelled":
                methods.cancel(session, msg.params)
            return accepted()
        method = msg.method
        sid_header = {SESSION_HEADER: session.id}
        if method == "tools/call":
            ctx = self.state.context()
            ctx.session = session
            return await self.tools_call(msg, ctx, modern=False, extra=sid_header)
        if method == "ping":
            result: Json = {}
        elif method == "tools/list":
            result = methods.tools_list_result(self.tools, msg.params, modern=False)
        elif method == "logging/setLevel":
            result = methods.set_level(session, msg.params)
        else:
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")
        return json_response(result_body(msg.id, result), sid_header)

    def initialize(self, msg: Message) -> Response:
        if not msg.has_id:
            raise RpcError(INVALID_REQUEST, "initialize must be a request with an id", status=400)
        result = methods.initialize_result(msg.params)
        session = self.state.sessions.create(result["protocolVersion"])
        return json_response(result_body(msg.id, result), {SESSION_HEADER: session.id})

    def session_for(self, headers: Headers) -> Session:
        sid = headers.get(H_SESSION)
        if sid is None:
            raise RpcError(
                INVALID_REQUEST,
                "missing Mcp-Session-Id header: send initialize "
                "first, then the session id it returns",
                status=400,
            )
        session = self.state.sessions.get(sid)
        if session is None:
            raise RpcError(
                SESSION_ERROR,
                "session not found or expired: send initialize again to start a new session",
                status=404,
            )
        return session

    # -- tools/call -------------------------------------------------------------------
    async def tools_call(
        self, msg: Message, ctx: ToolContext, *, modern: bool, extra: dict[str, str] | None = None
    ) -> Response:
        tool, args = methods.find_tool(self.tools, msg.params)
        token = methods.progress_token(msg.params)
        if token is not None and tool.long:
            return self.tools_call_sse(msg, tool, args, replace(ctx), token, modern, extra)
        try:
            if tool.long:
                result = await methods.call_cancellable(tool, args, ctx, msg.id)
            elif tool.is_async:
                result = await methods.call_tool(tool, args, ctx)
            else:
                result = methods.call_sync(tool, args, ctx)
        except DropConnection:
            return _drop_response()
        if modern:
            result["resultType"] = "complete"
        return json_response(result_body(msg.id, result), extra)

    def tools_call_sse(
        self,
        msg: Message,
        tool: Any,
        args: Json,
        ctx: ToolContext,
        token: Any,
        modern: bool,
        extra: dict[str, str] | None,
    ) -> Response:
        queue: asyncio.Queue[bytes] = asyncio.Queue()

        async def progress(done: float, total: float | None, message: str | None) -> None:
            queue.put_nowait(sse_event(methods.progress_notification(token, done, total, message)))

        ctx.progress = progress

        async def run() -> bytes:
            try:
                result = await methods.call_cancellable(tool, args, ctx, msg.id)
            except RpcError as err:
                return err.to_body(msg.id)
            if modern:
                result["resultType"] = "complete"
            return result_body(msg.id, result)

        async def stream() -> AsyncIterator[bytes]:
            task = asyncio.ensure_future(run())
            try:
                while not task.done():
                    getter = asyncio.ensure_future(queue.get())
                    await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
                    if getter.done():
                        yield getter.result()
                    else:
                        getter.cancel()
                while not queue.empty():
                    yield queue.get_nowait()
                yield sse_raw(task.result())
            finally:
                task.cancel()

        return Response(
            stream(), content_type="text/event-stream", headers={**SSE_HEADERS, **(extra or {})}
        )

    # -- streams ----------------------------------------------------------------------
    def listen(self, msg: Message) -> Response:
        """2026-07-28 `subscriptions/listen`: ack, broadcasts, a closing result at shutdown."""
        self.refuse_if_stopping()
        sub_id = msg.id
        wanted = msg.params.get("notifications")
        honoured: Json = {}
        if isinstance(wanted, dict) and wanted.get("toolsListChanged") is True:
            honoured["toolsListChanged"] = True

        token, queue = self.state.broadcaster.subscribe(
            listen_render(sub_id) if honoured else (lambda _p: b"")
        )
        ack = sse_event(
            notification(
                "notifications/subscriptions/acknowledged",
                {"_meta": {META_SUBSCRIPTION: sub_id}, "notifications": honoured},
            )
        )
        closing = result_body(
            sub_id, {"resultType": "complete", "_meta": {META_SUBSCRIPTION: sub_id}}
        )
        return self.stream_response(token, queue, ack, sse_raw(closing), None)

    def legacy_only(self, headers: Headers) -> Response | None:
        """GET and DELETE: guarded, and 405 in 2026-07-28, which is POST only."""
        refused = self.guard(headers)
        if refused is None and headers.get(H_VERSION) in MODERN_VERSIONS:
            refused = Response(b"", status=405, headers={"Allow": "POST"})
        return refused

    async def get(self) -> Response:
        """Legacy GET stream: session-wide notifications (the broadcast channel)."""
        headers = request_headers()
        refused = self.legacy_only(headers)
        if refused is not None:
            return refused
        try:
            self.refuse_if_stopping()
            session = self.session_for(headers)
        except RpcError as err:
            return error_response(err)
        if session.stream is not None:
            return error_response(
                RpcError(
                    INVALID_REQUEST,
                    "this session already has a GET stream open; use that one",
                    status=409,
                )
            )

        def render(params: Json) -> bytes:  # broadcasts are info-level log messages
            return legacy_render(params) if session.log_level in LOUD_ENOUGH else b""

        token, queue = self.state.broadcaster.subscribe(render)
        session.stream = queue
        return self.stream_response(token, queue, b": stream open\n\n", b"", session)

    def refuse_if_stopping(self) -> None:
        if self.state.shutting_down:
            raise busy("the server is shutting down; reconnect to its replacement", 5)

    def stream_response(
        self,
        token: int,
        queue: asyncio.Queue[bytes | None],
        first: bytes,
        last: bytes,
        session: Session | None,
    ) -> Response:
        broadcaster = self.state.broadcaster
        keepalive = self.state.config.keepalive_s

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield first
                while True:
                    try:
                        item = await asyncio.wait_for(queue.get(), keepalive)
                    except TimeoutError:
                        yield b": keepalive\n\n"
                        continue
                    if item is None:
                        break
                    if item:
                        yield item
                if last:
                    yield last
            finally:
                broadcaster.unsubscribe(token)
                if session is not None and session.stream is queue:
                    session.stream = None

        headers = dict(SSE_HEADERS)
        if session is not None:
            headers[SESSION_HEADER] = session.id
        return Response(stream(), content_type="text/event-stream", headers=headers)

    async def delete(self) -> Response:
        headers = request_headers()
        refused = self.legacy_only(headers)
        if refused is not None:
            return refused
        sid = headers.get(H_SESSION)
        if sid is None:
            return error_response(
                RpcError(
                    INVALID_REQUEST,
                    "DELETE needs the Mcp-Session-Id header of the session to end",
                    status=400,
                )
            )
        if not self.state.sessions.delete(sid):
            return error_response(
                RpcError(SESSION_ERROR, "session not found or expired", status=404)
            )
        return Response(b"", status=200)

    async def broadcast(self) -> Response:
        """Admin: POST /mcpperf/broadcast {"data": any} fans one notification out."""
        refused = self.guard(request_headers())
        if refused is not None:
            return refused
        body = await request.get_data(cache=False)
        data = None
        if body:
            try:
                parsed = json.loads(body)
            except (ValueError, RecursionError):
                return error_response(RpcError(PARSE_ERROR, "body must be JSON", status=400))
            data = parsed.get("data") if isinstance(parsed, dict) else None
        delivered = self.state.broadcaster.publish(data)
        return json_response(encode({"delivered": delivered, "seq": self.state.broadcaster.seq}))


def _drop_response() -> Response:
    async def boom() -> AsyncIterator[bytes]:
        raise DropConnection()
        yield b""  # pragma: no cover - makes this an async generator

    return Response(boom(), content_type=JSON)


def create_app(config: ServerConfig | None = None) -> Quart:
    """Build the Quart app; its `ServerState` is `app.config["MCPPERF_STATE"]`."""
    config = config or ServerConfig()
    app = Quart("mcpperf_server")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.config["BODY_TIMEOUT"] = 30
    state = ServerState(config)
    app.config["MCPPERF_STATE"] = state
    endpoint = Endpoint(state)
    app.add_url_rule("/mcp", "mcp_post", endpoint.post, methods=["POST"])
    app.add_url_rule("/mcp", "mcp_get", endpoint.get, methods=["GET"])
    app.add_url_rule("/mcp", "mcp_delete", endpoint.delete, methods=["DELETE"])
    app.add_url_rule("/mcpperf/broadcast", "broadcast", endpoint.broadcast, methods=["POST"])
    app.add_url_rule("/healthz", "healthz", _healthz, methods=["GET"])
    app.before_serving(_starter(state))
    app.after_serving(_stopper(state))
    return app


async def _healthz() -> Response:
    return Response(b"ok\n", content_type="text/plain")


def _starter(state: ServerState) -> Any:
    async def start() -> None:
        state.start()

    return start


def _stopper(state: ServerState) -> Any:
    async def stop() -> None:
        await state.stop()

    return stop
