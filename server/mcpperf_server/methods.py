"""MCP methods, shared by both eras where they agree (tools/list, tools/call).

The HTTP layer (`app.py`) decides the era, checks headers and sessions, then calls these.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    LEGACY_VERSIONS,
    META_SERVER_INFO,
    NEWEST_LEGACY,
    REQUEST_CANCELLED,
    SERVER_NAME,
    SUPPORTED_VERSIONS,
    Json,
    JsonId,
    RpcError,
    notification,
)
from .sessions import LOG_LEVELS, Session
from .tools import DropConnection, Tool, ToolContext

log = logging.getLogger("mcpperf_server")

SERVER_VERSION = "0.1.0"
SERVER_INFO: Json = {"name": SERVER_NAME, "version": SERVER_VERSION}
CAPABILITIES: Json = {"tools": {"listChanged": True}, "logging": {}}
INSTRUCTIONS = (
    "mcpperf load-test server: fast_compute, cpu_intensive, memory_allocate, "
    "async_io, session_counter, perf_stats, error_simulation."
)
LIST_TTL_MS = 60_000


def bad_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def initialize_result(params: Json) -> Json:
    requested = params.get("protocolVersion")
    version = requested if requested in LEGACY_VERSIONS else NEWEST_LEGACY
    return {
        "protocolVersion": version,
        "capabilities": CAPABILITIES,
        "serverInfo": SERVER_INFO,
        "instructions": INSTRUCTIONS,
    }


def discover_result() -> Json:
    return {
        "resultType": "complete",
        "supportedVersions": list(SUPPORTED_VERSIONS),
        "capabilities": CAPABILITIES,
        "instructions": INSTRUCTIONS,
        "_meta": {META_SERVER_INFO: SERVER_INFO},
        "ttlMs": LIST_TTL_MS,
        "cacheScope": "public",
    }


def tools_list_result(tools: dict[str, Tool], params: Json, modern: bool) -> Json:
    if params.get("cursor") is not None:
        raise bad_params(
            "invalid cursor: this server lists every tool on one page; "
            "call tools/list without a cursor"
        )
    result: Json = {"tools": [t.definition() for t in tools.values()]}
    if modern:
        result.update(resultType="complete", ttlMs=LIST_TTL_MS, cacheScope="public")
    return result


def set_level(session: Session, params: Json) -> Json:
    level = params.get("level")
    if level not in LOG_LEVELS:
        raise bad_params(f"invalid log level {level!r}; use one of {', '.join(LOG_LEVELS)}")
    session.log_level = level
    return {}


def find_tool(tools: dict[str, Tool], params: Json) -> tuple[Tool, Json]:
    name = params.get("name")
    tool = tools.get(name) if isinstance(name, str) else None
    if tool is None:
        raise bad_params(f"unknown tool {name!r}; tools/list names the {len(tools)} tools")
    args = params.get("arguments")
    if args is None:
        args = {}
    elif not isinstance(args, dict):
        raise bad_params("'arguments' must be an object")
    return tool, args


def call_sync(tool: Tool, args: Json, ctx: ToolContext) -> Json:
    """The fast path for tools that never wait: no coroutine, same error mapping."""
    try:
        result: Json = tool.fn(args, ctx)
        return result
    except RpcError:
        raise
    except Exception as exc:
        log.debug("tool %s failed", tool.name, exc_info=True)
        raise RpcError(INTERNAL_ERROR, f"Internal error in tool {tool.name}: {exc}") from exc


async def call_tool(tool: Tool, args: Json, ctx: ToolContext) -> Json:
    """Run one tool; an unexpected exception becomes -32603 and the server stays up."""
    try:
        if tool.is_async:
            result: Json = await tool.fn(args, ctx)
        else:
            result = tool.fn(args, ctx)
        return result
    except (RpcError, DropConnection, asyncio.CancelledError):
        raise
    except Exception as exc:
        log.debug("tool %s failed", tool.name, exc_info=True)
        raise RpcError(INTERNAL_ERROR, f"Internal error in tool {tool.name}: {exc}") from exc


async def call_cancellable(tool: Tool, args: Json, ctx: ToolContext, msg_id: JsonId) -> Json:
    """A long legacy-era call that `notifications/cancelled` can stop (-32800 if it does).

    In this era a dropped connection is not a cancellation: if the HTTP handler is cancelled
    the work runs on (shielded) until done, cancelled by id, or its session ends.
    """
    session = ctx.session
    if session is None or msg_id is None:
        return await call_tool(tool, args, ctx)
    task = asyncio.ensure_future(call_tool(tool, args, ctx))
    session.inflight[msg_id] = task

    def finished(done: asyncio.Task[Json]) -> None:
        if session.inflight.get(msg_id) is done:
            del session.inflight[msg_id]
        if not done.cancelled():
            done.exception()  # retrieved: an orphaned call's error is not logged as lost

    task.add_done_callback(finished)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if task.cancelled() and current is not None and not current.cancelling():
            raise RpcError(
                REQUEST_CANCELLED,
                "request cancelled by notifications/cancelled",
            ) from None
        raise


def progress_token(params: Json) -> Any:
    """The progress token a request's params carry in `_meta` (None when there is none)."""
    meta = params.get("_meta")
    return meta.get("progressToken") if isinstance(meta, dict) else None


def progress_notification(
    token: Any, done: float, total: float | None, message: str | None
) -> Json:
    """The `notifications/progress` message for `token` (a tool context's `progress`)."""
    params: Json = {"progressToken": token, "progress": done}
    if total is not None:
        params["total"] = total
    if message:
        params["message"] = message
    return notification("notifications/progress", params)


def cancel(session: Session, params: Any) -> None:
    if isinstance(params, dict):
        task = session.inflight.get(params.get("requestId"))
        if task is not None:
            task.cancel()


def modern_result(result: Json) -> Json:
    result["resultType"] = "complete"
    return result
