"""The HTTP layer: one Quart app, one endpoint `/mcp`, both protocol eras.

Per POST: guard Host/Origin -> read the body (size-limited) -> parse one JSON-RPC message ->
pick the era (2026-07-28 if its version header or `_meta` says so, else legacy) -> check
that era's headers / session -> run the method -> JSON, or SSE when the call asked for
progress. Nothing is logged per request.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from quart import Quart, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from . import methods
from .broadcast import legacy_render
from .config import ServerConfig
from .protocol import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    LEGACY_VERSIONS,
    META_CAPS,
    META_SUBSCRIPTION,
    META_VERSION,
    METHOD_NOT_FOUND,
    MODERN_VERSIONS,
    PARSE_ERROR,
    SESSION_ERROR,
    SUPPORTED_VERSIONS,
    UNSUPPORTED_VERSION,
    Json,
    JsonId,
    RpcError,
    encode,
    notification,
    result_body,
    sse_event,
    sse_raw,
)
from .sessions import Session
from .state import ServerState
from .tools import DropConnection, ToolContext

JSON = "application/json"
SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
SESSION_HEADER = "Mcp-Session-Id"
_ACCEPTED = Response(b"", status=202)


class Message:
    """One parsed JSON-RPC message: method, id (None for a notification), params."""

    __slots__ = ("has_id", "id", "method", "params")

    def __init__(self, raw: Any) -> None:
        if isinstance(raw, list):
            raise RpcError(INVALID_REQUEST, "JSON-RPC batches are not supported: send one "
                           "message per POST", status=400)
        if not isinstance(raw, dict) or raw.get("jsonrpc") != "2.0":
            raise RpcError(INVALID_REQUEST, "not a JSON-RPC 2.0 message: send an object with "
                           '"jsonrpc": "2.0" and a "method"', status=400)
        method = raw.get("method")
        if not isinstance(method, str):
            raise RpcError(INVALID_REQUEST, "a client message needs a string 'method'",
                           status=400)
        self.method = method
        self.has_id = "id" in raw
        msg_id = raw.get("id")
        if self.has_id and (type(msg_id) not in (str, int)):
            raise RpcError(INVALID_REQUEST, "request id must be a string or an integer "
                           "(null is not allowed)", status=400)
        self.id: JsonId = msg_id
        params = raw.get("params")
        if params is None:
            params = {}
        elif not isinstance(params, dict):
            raise RpcError(INVALID_PARAMS, "'params' must be an object", status=400)
        self.params: Json = params


def parse(body: bytes) -> Message:
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise RpcError(PARSE_ERROR, f"Parse error: {type(exc).__name__}: {exc}"[:200],
                       status=400) from None
    return Message(raw)


def error_response(err: RpcError, msg_id: JsonId = None) -> Response:
    return Response(err.to_body(msg_id), status=err.status, headers=err.headers,
                    content_type=JSON)


def json_response(body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, content_type=JSON, headers=headers)


def _decode_name(value: str) -> str:
    if value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode()
        except ValueError:
            return "\0invalid"
    return value


def check_modern_headers(msg: Message, headers: Any) -> str:
    """2026-07-28 rules: `_meta` present (-32602), headers match the body (-32020)."""
    meta = msg.params.get("_meta")
    if not isinstance(meta, dict) or META_VERSION not in meta or META_CAPS not in meta:
        raise RpcError(INVALID_PARAMS, f"2026-07-28 requests need params._meta with "
                       f"'{META_VERSION}' and '{META_CAPS}'", status=400)
    version = meta[META_VERSION]
    header = headers.get("MCP-Protocol-Version")
    if header != version:
        raise _mismatch("MCP-Protocol-Version", header, version)
    if version not in MODERN_VERSIONS:
        raise unsupported(version)
    if headers.get("Mcp-Method") != msg.method:
        raise _mismatch("Mcp-Method", headers.get("Mcp-Method"), msg.method)
    if msg.method in ("tools/call", "prompts/get", "resources/read"):
        name = msg.params.get("uri" if msg.method == "resources/read" else "name")
        got = headers.get("Mcp-Name")
        if got is None or _decode_name(got) != name:
            raise _mismatch("Mcp-Name", got, name)
    return str(version)


def _mismatch(header: str, got: Any, body: Any) -> RpcError:
    if got is None:
        return RpcError(HEADER_MISMATCH, f"Header mismatch: required header {header} is "
                        f"missing; send {header}: {body}", status=400)
    return RpcError(HEADER_MISMATCH, f"Header mismatch: {header} header value {got!r} does "
                    f"not match body value {body!r}", status=400)


def unsupported(version: Any) -> RpcError:
    return RpcError(UNSUPPORTED_VERSION, f"Unsupported protocol version {version!r}; "
                    f"use one of {', '.join(SUPPORTED_VERSIONS)}", status=400,
                    data={"supported": list(SUPPORTED_VERSIONS), "requested": version})


class Endpoint:
    """The `/mcp` request handlers bound to one `ServerState`."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.tools = state.tools
        self.stats = state.stats

    # -- POST ------------------------------------------------------------------------
    async def post(self) -> Response:
        headers = request.headers
        refused = self.guard(headers)
        if refused is not None:
            return refused
        stats = self.stats
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
        finally:
            stats.end(tool, time.perf_counter() - start, ok)

    def guard(self, headers: Any) -> Response | None:
        guard = self.state.guard
        if not guard.host_ok(headers.get("Host")):
            return error_response(RpcError(INVALID_REQUEST, "Host header not allowed (DNS "
                                  "rebinding defence); connect via 127.0.0.1/localhost or "
                                  "start the server with --allow-host", status=421))
        if not guard.origin_ok(headers.get("Origin")):
            return error_response(RpcError(INVALID_REQUEST, "Origin not allowed; only "
                                  "loopback origins may call this server", status=403))
        return None

    async def body(self) -> bytes:
        limit = self.state.config.max_body_bytes
        length = request.content_length
        too_big = RpcError(INVALID_REQUEST, f"request body over {limit} bytes; send smaller "
                           "messages or raise --max-body-bytes", status=413)
        if length is not None and length > limit:
            raise too_big
        try:
            return await request.get_data(cache=False, as_text=False, parse_form_data=False)
        except RequestEntityTooLarge:
            raise too_big from None

    async def route(self, msg: Message, headers: Any) -> Response:
        version = headers.get("MCP-Protocol-Version")
        meta = msg.params.get("_meta")
        if version in MODERN_VERSIONS or (
                isinstance(meta, dict) and meta.get(META_VERSION) in MODERN_VERSIONS):
            return await self.modern(msg, headers)
        if version is not None and version not in LEGACY_VERSIONS:
            raise unsupported(version)
        return await self.legacy(msg, headers)

    # -- 2026-07-28 -------------------------------------------------------------------
    async def modern(self, msg: Message, headers: Any) -> Response:
        check_modern_headers(msg, headers)
        method = msg.method
        if not msg.has_id:
            return _ACCEPTED
        if method == "tools/call":
            return await self.tools_call(msg, self.state.context(), modern=True)
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
    async def legacy(self, msg: Message, headers: Any) -> Response:
        if msg.method == "initialize":
            return self.initialize(msg)
        session = self.session_for(headers)
        if not msg.has_id:
            if msg.method == "notifications/initialized":
                session.initialized = True
            elif msg.method == "notifications/cancelled":
                methods.cancel(session, msg.params)
            return _ACCEPTED
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
            raise RpcError(INVALID_REQUEST, "initialize must be a request with an id",
                           status=400)
        result = methods.initialize_result(msg.params)
        session = self.state.sessions.create(result["protocolVersion"])
        return json_response(result_body(msg.id, result), {SESSION_HEADER: session.id})

    def session_for(self, headers: Any) -> Session:
        sid = headers.get(SESSION_HEADER)
        if sid is None:
            raise RpcError(INVALID_REQUEST, "missing Mcp-Session-Id header: send initialize "
                           "first, then the session id it returns", status=400)
        session = self.state.sessions.get(sid)
        if session is None:
            raise RpcError(SESSION_ERROR, "session not found or expired: send initialize "
                           "again to start a new session", status=404)
        return session

    # -- tools/call -------------------------------------------------------------------
    async def tools_call(self, msg: Message, ctx: ToolContext, *, modern: bool,
                         extra: dict[str, str] | None = None) -> Response:
        tool, args = methods.find_tool(self.tools, msg.params)
        meta = msg.params.get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        if token is not None and tool.long:
            return self.tools_call_sse(msg, tool, args, ctx, token, modern, extra)
        try:
            if tool.long:
                result = await methods.call_cancellable(tool, args, ctx, msg.id)
            else:
                result = await methods.call_tool(tool, args, ctx)
        except DropConnection:
            return _drop_response()
        if modern:
            result["resultType"] = "complete"
        return json_response(result_body(msg.id, result), extra)

    def tools_call_sse(self, msg: Message, tool: Any, args: Json, ctx: ToolContext,
                       token: Any, modern: bool, extra: dict[str, str] | None) -> Response:
        queue: asyncio.Queue[bytes] = asyncio.Queue()

        async def progress(done: float, total: float | None, message: str | None) -> None:
            params: Json = {"progressToken": token, "progress": done}
            if total is not None:
                params["total"] = total
            if message:
                params["message"] = message
            queue.put_nowait(sse_event(notification("notifications/progress", params)))

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

        return Response(stream(), content_type="text/event-stream",
                        headers={**SSE_HEADERS, **(extra or {})})

    # -- streams ----------------------------------------------------------------------
    def listen(self, msg: Message) -> Response:
        """2026-07-28 `subscriptions/listen`: ack, broadcasts, a closing result at shutdown."""
        sub_id = msg.id
        wanted = msg.params.get("notifications")
        honoured: Json = {}
        if isinstance(wanted, dict) and wanted.get("toolsListChanged") is True:
            honoured["toolsListChanged"] = True

        def render(params: Json) -> bytes:
            meta = {**params["_meta"], META_SUBSCRIPTION: sub_id}
            return sse_event(notification("notifications/tools/list_changed", {"_meta": meta}))

        token, queue = self.state.broadcaster.subscribe(
            render if honoured else (lambda _p: b""))
        ack = sse_event(notification("notifications/subscriptions/acknowledged",
                                     {"_meta": {META_SUBSCRIPTION: sub_id},
                                      "notifications": honoured}))
        closing = result_body(sub_id, {"resultType": "complete",
                                       "_meta": {META_SUBSCRIPTION: sub_id}})
        return self.stream_response(token, queue, ack, sse_raw(closing), None)

    async def get(self) -> Response:
        """Legacy GET stream: session-wide notifications (the broadcast channel)."""
        refused = self.guard(request.headers)
        if refused is not None:
            return refused
        if request.headers.get("MCP-Protocol-Version") in MODERN_VERSIONS:
            return Response(b"", status=405, headers={"Allow": "POST"})
        try:
            session = self.session_for(request.headers)
        except RpcError as err:
            return error_response(err)
        if session.stream is not None:
            return error_response(RpcError(INVALID_REQUEST, "this session already has a GET "
                                  "stream open; use that one", status=409))
        token, queue = self.state.broadcaster.subscribe(legacy_render)
        session.stream = queue
        return self.stream_response(token, queue, b": stream open\n\n", b"", session)

    def stream_response(self, token: int, queue: asyncio.Queue[bytes | None], first: bytes,
                        last: bytes, session: Session | None) -> Response:
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
        refused = self.guard(request.headers)
        if refused is not None:
            return refused
        if request.headers.get("MCP-Protocol-Version") in MODERN_VERSIONS:
            return Response(b"", status=405, headers={"Allow": "POST"})
        sid = request.headers.get(SESSION_HEADER)
        if sid is None:
            return error_response(RpcError(INVALID_REQUEST, "DELETE needs the Mcp-Session-Id "
                                  "header of the session to end", status=400))
        if not self.state.sessions.delete(sid):
            return error_response(RpcError(SESSION_ERROR, "session not found or expired",
                                  status=404))
        return Response(b"", status=200)

    async def broadcast(self) -> Response:
        """Admin: POST /mcpperf/broadcast {"data": any} fans one notification out."""
        refused = self.guard(request.headers)
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
        return json_response(encode({"delivered": delivered,
                                     "seq": self.state.broadcaster.seq}))


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
