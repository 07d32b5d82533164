"""One-off MCP exchanges around a run (the control path), over the engine's own session.

Which protocol era the server speaks and which tools (resources, prompts) it lists are
asked through `McpSession`, the same code the load path uses: one era negotiation, one
SSE decoder. Each call opens a short session and closes it (a legacy session is DELETEd),
so a probe leaves nothing behind on the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pytest_mcpperf.engine.http import HttpTransport
from pytest_mcpperf.engine.loop import run_sync
from pytest_mcpperf.engine.mcp import McpError, McpSession
from pytest_mcpperf.engine.transport import Link, Transport
from pytest_mcpperf.errors import ConfigError, RequestError, TargetError
from pytest_mcpperf.spec import TOOLS_CALL, ToolCall
from pytest_mcpperf.vocabulary import LEGACY, MODERN, option

__all__ = [
    "LEGACY",
    "MODERN",
    "ServerInfo",
    "list_names",
    "list_tools",
    "preflight",
    "probe",
    "probe_protocol_version",
]

T = TypeVar("T")
MAX_PAGES = 100
#: list method -> the result key holding the items
LISTS = {
    "tools/list": "tools",
    "resources/list": "resources",
    "prompts/list": "prompts",
    "resources/templates/list": "resourceTemplates",
}


@dataclass(frozen=True)
class ServerInfo:
    """What the handshake told: era ("modern" | "legacy"), revision, serverInfo."""

    era: str
    protocol_version: str
    server_info: dict[str, Any] = field(default_factory=dict)


async def _with_session(
    transport: Transport,
    protocol: str,
    timeout_s: float,
    body: Callable[[McpSession, Link], Awaitable[T]],
) -> T:
    session = McpSession(transport, protocol=protocol, timeout_s=timeout_s)
    conn: Link | None = None
    try:
        conn = await session.open()
        return await body(session, conn)
    except (RequestError, McpError) as exc:
        raise TargetError(
            f"the server did not complete an MCP handshake ({exc}); check "
            "that the URL is its MCP endpoint (usually ending in /mcp)"
        ) from exc
    finally:
        await session.close(conn)
        if conn is not None:
            conn.close()


async def aprobe(transport: Transport, timeout_s: float = 5.0) -> ServerInfo:
    """Negotiate the era as a run would (`auto`: 2026-07-28 first, then initialize)."""

    async def info(session: McpSession, _conn: Link) -> ServerInfo:
        return ServerInfo(session.era, session.protocol_version, dict(session.server_info))

    return await _with_session(transport, "auto", timeout_s, info)


async def alist_names(
    transport: Transport, method: str = "tools/list", timeout_s: float = 5.0
) -> list[str]:
    """Names (URIs for resources) of every page of a list method, in order."""

    async def names(session: McpSession, conn: Link) -> list[str]:
        return await session_names(session, conn, method)

    return await _with_session(transport, "auto", timeout_s, names)


async def session_names(session: McpSession, conn: Link, method: str) -> list[str]:
    """Names (URIs for resources) of every page of a list method, over an open session."""
    key = LISTS[method]
    out: list[str] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"cursor": cursor} if cursor else {}
        if session.era == "modern":
            params["_meta"] = session.meta()
        conn, _, msg = await session.rpc(conn, method, params)
        result = (msg or {}).get("result")
        if not isinstance(result, dict):
            break
        for item in result.get(key, []):
            if isinstance(item, dict):
                first = ("uri", "uriTemplate", "name") if key.startswith("resource") else ()
                out.append(next((str(item[k]) for k in (*first, "name") if item.get(k)), ""))
        cursor = result.get("nextCursor")
        if not cursor:
            break
    return out


#: request kind -> (what it names, the list methods that say what exists, params key)
_NAMED = {
    TOOLS_CALL: ("tool", ("tools/list",), "name"),
    "prompts/get": ("prompt", ("prompts/list",), "name"),
    "resources/read": ("resource", ("resources/list", "resources/templates/list"), "uri"),
}
PREFLIGHT_TIMEOUT_S = 3.0


async def preflight(
    session: McpSession, conn: Link, calls: Sequence[ToolCall], front_end: str = "api"
) -> None:
    """Before load: every tool, prompt and resource the workload names must be listed.

    Raises ConfigError naming what was asked for and what the server offers. A server
    that does not answer a list method (or not in time) is not checked for that kind.
    """
    wanted: dict[str, set[str]] = {}
    for call in calls:
        method, params, _ = call.request()
        if method in _NAMED:
            wanted.setdefault(method, set()).add(str(params.get(_NAMED[method][2], "")))
    for method, asked in wanted.items():
        what, lists, _ = _NAMED[method]
        offered: list[str] = []
        for list_method in lists:
            try:
                offered += await asyncio.wait_for(
                    session_names(session, conn, list_method), PREFLIGHT_TIMEOUT_S
                )
            except (RequestError, TimeoutError):
                continue
        if not offered:
            continue  # the server lists none: nothing to check against
        missing = sorted(n for n in asked if not _offered(n, offered))
        if missing:
            shown = ", ".join(sorted(offered)[:30]) + (" ..." if len(offered) > 30 else "")
            fix = "the mix entry" if len(calls) > 1 else _fix(method, front_end)
            raise ConfigError(
                f"the server has no {what} {', '.join(map(repr, missing))}; it offers: "
                f"{shown}; fix {fix}"
            )


def _offered(name: str, offered: list[str]) -> bool:
    """`name` is listed, or (a resource URI) matches a listed URI template's fixed start."""
    return name in offered or any("{" in o and name.startswith(o.split("{", 1)[0]) for o in offered)


def _fix(method: str, front_end: str) -> str:
    if method == TOOLS_CALL:
        return "the tool name (--tool)" if front_end == "cli" else "the tool name (tool=)"
    return f"the {option(front_end, 'params')} value"


def probe(url: str, timeout_s: float = 5.0, *, transport: Transport | None = None) -> ServerInfo:
    """`aprobe` from synchronous code: over `transport` when given (a stdio server's,
    from `engine.wire.target_transport`), else over HTTP to `url`."""
    return run_sync(lambda: aprobe(transport or HttpTransport(url), timeout_s))


def probe_protocol_version(
    url: str, timeout_s: float = 5.0, *, transport: Transport | None = None
) -> str:
    """The protocol revision the server at `url` speaks (MODERN or its legacy one), over
    `transport` when given (a stdio server's, `engine.wire.target_transport`), else HTTP."""
    return probe(url, timeout_s, transport=transport).protocol_version


def list_names(
    url: str,
    method: str = "tools/list",
    timeout_s: float = 5.0,
    *,
    transport: Transport | None = None,
) -> list[str]:
    """`alist_names` from synchronous code, over `transport` or HTTP to `url`."""
    return run_sync(lambda: alist_names(transport or HttpTransport(url), method, timeout_s))


def list_tools(
    url: str,
    protocol_version: str | None = None,
    timeout_s: float = 5.0,
    *,
    transport: Transport | None = None,
) -> set[str]:
    """The names of the tools the server lists (every page). `protocol_version` is
    accepted for callers that know it; the session negotiates the era itself. A stdio
    server is listed over its pipes: pass `transport=target_transport(url, pid)`."""
    del protocol_version
    return set(list_names(url, "tools/list", timeout_s, transport=transport))
