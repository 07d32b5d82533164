"""One-off MCP exchanges around a run (the control path), over the engine's own session.

Which protocol era the server speaks and which tools (resources, prompts) it lists are
asked through `McpSession`, the same code the load path uses: one era negotiation, one
SSE decoder. Each call opens a short session and closes it (a legacy session is DELETEd),
so a probe leaves nothing behind on the server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pytest_mcpperf.engine.http import HttpTransport
from pytest_mcpperf.engine.loop import run_sync
from pytest_mcpperf.engine.mcp import McpError, McpSession
from pytest_mcpperf.engine.transport import Link, Transport
from pytest_mcpperf.errors import RequestError, TargetError
from pytest_mcpperf.vocabulary import LEGACY, MODERN

__all__ = [
    "LEGACY",
    "MODERN",
    "ServerInfo",
    "list_names",
    "list_tools",
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
    key = LISTS[method]

    async def names(session: McpSession, conn: Link) -> list[str]:
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
                    out.append(
                        str(item.get("name") or item.get("uri") or item.get("uriTemplate") or "")
                    )
            cursor = result.get("nextCursor")
            if not cursor:
                break
        return out

    return await _with_session(transport, "auto", timeout_s, names)


def probe(url: str, timeout_s: float = 5.0) -> ServerInfo:
    """`aprobe` from synchronous code."""
    return run_sync(lambda: aprobe(HttpTransport(url), timeout_s))


def probe_protocol_version(url: str, timeout_s: float = 5.0) -> str:
    """The protocol revision the server at `url` speaks (MODERN or its legacy one)."""
    return probe(url, timeout_s).protocol_version


def list_names(url: str, method: str = "tools/list", timeout_s: float = 5.0) -> list[str]:
    """`alist_names` from synchronous code."""
    return run_sync(lambda: alist_names(HttpTransport(url), method, timeout_s))


def list_tools(url: str, protocol_version: str | None = None, timeout_s: float = 5.0) -> set[str]:
    """The names of the tools the server lists (every page). `protocol_version` is
    accepted for callers that know it; the session negotiates the era itself."""
    del protocol_version
    return set(list_names(url, "tools/list", timeout_s))
