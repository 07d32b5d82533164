"""An MCP client session over a `Transport` (engine.transport), for both protocol eras.

`auto` probes the 2026-07-28 era first (`server/discover`) and falls back to the
legacy `initialize` handshake. Tool calls are pre-encoded once per (tool, arguments)
as a bytes template with two holes, Content-Length and the JSON-RPC id, so the hot
path formats one bytes object per request. Outcomes are classified into the report's
error classes (`vocabulary.CLASS_NAMES`) and never retried; a legacy 404 (session
unknown or expired) is reported as the http_error it is, and the session is
re-initialised for the requests that follow, which the caller counts.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_mcpperf.engine.transport import Link, Reply, Template, Transport
from pytest_mcpperf.errors import RequestError, RequestTimeout, TransportError
from pytest_mcpperf.version import __version__
from pytest_mcpperf.vocabulary import (
    HTTP_ERROR,
    LEGACY,
    MODERN,
    OK,
    PROTOCOL_ALIASES,
    PROTOCOLS,
    RPC_ERROR,
    TIMEOUT,
    TOOL_ERROR,
    TRANSPORT,
)

CLIENT_INFO = {"name": "mcpperf", "version": __version__}
ACCEPT = "application/json, text/event-stream"


class McpError(Exception):
    """A control-path exchange (handshake, discover) did not succeed."""


class McpAuthError(McpError):
    """The server refused the handshake with HTTP 401 or 403: credentials are missing."""

    def __init__(self, status: int) -> None:
        word = "unauthorized" if status == 401 else "forbidden"
        super().__init__(f"the server answered the handshake with HTTP {status} ({word})")
        self.status = status


#: JSON-RPC ids, unique in the whole process: sessions that share one stdio server
#: never collide on its pipe (over HTTP the ids only need to differ per session).
_IDS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one request ended: class (OK..TIMEOUT) and a code (status, RPC code...)."""

    kind: int
    code: str = ""


OUTCOME_OK = Outcome(OK)


def classify(resp: Reply, rid: int) -> Outcome:
    """Classify a tools/call response whose JSON-RPC id should be `rid`."""
    if resp.status != 200:
        return Outcome(HTTP_ERROR, str(resp.status))
    msg = find_response(resp, rid)
    if msg is None:
        return Outcome(TRANSPORT, "no_response_for_id")
    err = msg.get("error")
    if err is not None:
        code = err.get("code") if isinstance(err, dict) else None
        return Outcome(RPC_ERROR, str(code))
    result = msg.get("result")
    if isinstance(result, dict) and result.get("isError"):
        return Outcome(TOOL_ERROR, "isError")
    return OUTCOME_OK


def find_response(resp: Reply, rid: int | str) -> dict[str, Any] | None:
    """The JSON-RPC response with id `rid` in a JSON or SSE body, or None.

    SSE streams may carry notifications (and requests) first; only a message with
    the right id and a result or error counts.
    """
    if resp.events is None:
        try:
            msg = json.loads(resp.body)
        except ValueError:
            return None
        return msg if isinstance(msg, dict) and msg.get("id") == rid else None
    for event in resp.events:
        try:
            msg = json.loads(event.data)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("id") == rid and ("result" in msg or "error" in msg):
            return msg
    return None


def transport_outcome(exc: RequestError) -> Outcome:
    """Outcome of a request that raised: its class and code come from the error's type."""
    return Outcome(TIMEOUT if isinstance(exc, RequestTimeout) else TRANSPORT, exc.code)


class McpSession:
    """One MCP client session (legacy) or its stateless stand-in (2026-07-28).

    Holds the negotiated era and version, the session id, the server's info, and the
    pre-encoded tool-call templates (rebuilt when a re-init changes the session id).
    Connections are separate: one session may be used over many connections.
    """

    def __init__(
        self, transport: Transport, *, protocol: str = "auto", timeout_s: float = 30.0
    ) -> None:
        protocol = PROTOCOL_ALIASES.get(protocol, protocol)
        if protocol not in PROTOCOLS:
            raise ValueError(
                f"unknown protocol {protocol!r}: use one of {PROTOCOLS} "
                f"or a revision {tuple(PROTOCOL_ALIASES)}"
            )
        self.transport = transport
        self.protocol = protocol
        self.timeout_s = timeout_s
        self.era = ""
        self.protocol_version = ""
        self.server_info: dict[str, Any] = {}
        self.session_id: str | None = None
        self.reinits = 0
        self.generation = 0
        self._calls: list[tuple[str, dict[str, Any], str | None]] = []
        self._templates: list[Template] = []
        self._reinit_lock = asyncio.Lock()

    # -- request ids and templates ------------------------------------------------
    def next_id(self) -> int:
        return next(_IDS)

    def add_call(self, tool: str, arguments: Mapping[str, Any]) -> int:
        """Register a tool call for the hot path; returns its template index."""
        return self.add_request("tools/call", {"name": tool, "arguments": dict(arguments)}, tool)

    def add_request(self, method: str, params: Mapping[str, Any], name: str | None) -> int:
        """Register any request kind for the hot path (`name`: the tool, prompt or
        resource it is about, for the 2026-07-28 Mcp-Name header); returns its index."""
        self._calls.append((method, dict(params), name))
        self._templates.append(self._template(method, dict(params), name))
        return len(self._calls) - 1

    def encode_call(self, index: int, rid: int) -> bytes:
        """The whole request bytes for template `index` with JSON-RPC id `rid`."""
        return self._templates[index].encode(rid)

    def _template(self, method: str, params: dict[str, Any], name: str | None) -> Template:
        if self.era == "modern":
            params = {**params, "_meta": self.meta()}
        before = b'{"jsonrpc":"2.0","id":'
        after = b',"method":' + json.dumps(method).encode()
        if params:
            after += b',"params":' + json.dumps(params, separators=(",", ":")).encode()
        after += b"}"
        return self.transport.template(self._headers(method, name), before, after)

    def _headers(self, method: str, name: str | None) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Accept": ACCEPT,
            **self._session_headers(method, name),
        }

    def _session_headers(self, method: str, name: str | None) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.era == "modern":
            out["MCP-Protocol-Version"] = MODERN
            out["Mcp-Method"] = method
            if name is not None:
                out["Mcp-Name"] = name
        elif self.protocol_version:
            out["MCP-Protocol-Version"] = self.protocol_version
            if self.session_id:
                out["Mcp-Session-Id"] = self.session_id
        return out

    @staticmethod
    def meta() -> dict[str, Any]:
        return {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        }

    # -- control path -------------------------------------------------------------
    async def open(self, conn: Link | None = None) -> Link:
        """Detect the era and do the handshake; returns a usable connection.

        A handshake that fails closes its connection (an open one left behind can keep
        the event loop from closing)."""
        conn = conn if conn is not None and not conn.closed else await self._connect()
        try:
            return await self._handshake(conn)
        except BaseException:
            conn.close()
            raise

    async def _handshake(self, conn: Link) -> Link:
        if self.protocol in ("auto", "modern"):
            conn, ok = await self._discover(conn)
            if ok:
                self._rebuild()
                return conn
            if self.protocol == "modern":
                raise McpError(
                    "the server does not answer server/discover for "
                    f"{MODERN}; try protocol 'legacy' or 'auto'"
                )
        conn = await self._initialize(conn)
        self._rebuild()
        return conn

    async def _connect(self) -> Link:
        return await self.transport.connect(min(self.timeout_s, 10.0))

    async def _discover(self, conn: Link) -> tuple[Link, bool]:
        saved = self.era
        self.era = "modern"
        params = {"_meta": self.meta()}
        conn, resp, msg = await self.rpc(conn, "server/discover", params)
        result = msg.get("result") if msg else None
        if (
            resp.status == 200
            and isinstance(result, dict)
            and MODERN in result.get("supportedVersions", ())
        ):
            self.protocol_version = MODERN
            self.server_info = dict(result.get("serverInfo") or {})
            return conn, True
        self.era = saved
        return conn, False

    async def _initialize(self, conn: Link) -> Link:
        self.era = "legacy"
        self.protocol_version = ""
        self.session_id = None
        params = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": CLIENT_INFO}
        conn, resp, msg = await self.rpc(conn, "initialize", params)
        result = msg.get("result") if msg else None
        if resp.status in (401, 403):
            raise McpAuthError(resp.status)
        if resp.status != 200 or not isinstance(result, dict):
            raise McpError(f"initialize failed: HTTP {resp.status} {resp.body[:200]!r}")
        self.protocol_version = str(result.get("protocolVersion") or LEGACY)
        self.server_info = dict(result.get("serverInfo") or {})
        self.session_id = resp.headers.get("mcp-session-id")
        conn, resp, _ = await self.rpc(conn, "notifications/initialized", None, notification=True)
        if resp.status not in (200, 202, 204):
            raise McpError(f"notifications/initialized answered HTTP {resp.status}")
        return conn

    async def reinitialize(self, conn: Link | None, seen_generation: int) -> Link | None:
        """Start a new legacy session after a 404, once per generation."""
        async with self._reinit_lock:
            if self.generation != seen_generation:
                return conn
            self.reinits += 1
            try:
                conn = await self._initialize(
                    conn if conn and not conn.closed else await self._connect()
                )
            except (McpError, TransportError, RequestTimeout):
                return None
            self._rebuild()
            return conn

    def _rebuild(self) -> None:
        self.generation += 1
        self._templates = [self._template(m, params, name) for m, params, name in self._calls]

    async def rpc(
        self,
        conn: Link,
        method: str,
        params: Any,
        *,
        name: str | None = None,
        notification: bool = False,
    ) -> tuple[Link, Reply, dict[str, Any] | None]:
        """One control-path JSON-RPC exchange (reconnecting if the connection closed)."""
        if conn.closed:
            conn = await self._connect()
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        rid = None
        if not notification:
            rid = self.next_id()
            msg["id"] = rid
        if params is not None:
            msg["params"] = params
        body = json.dumps(msg, separators=(",", ":")).encode()
        data = self.transport.frame("POST", self._headers(method, name), body)
        loop = asyncio.get_running_loop()
        resp = await conn.request(data, loop.time() + self.timeout_s)
        found = find_response(resp, rid) if rid is not None else None
        return conn, resp, found

    async def call_tool(
        self, conn: Link, tool: str, arguments: Mapping[str, Any]
    ) -> tuple[Outcome, dict[str, Any] | None]:
        """A one-off tools/call on the control path (not for load)."""
        params: dict[str, Any] = {"name": tool, "arguments": dict(arguments)}
        if self.era == "modern":
            params["_meta"] = self.meta()
        _, resp, msg = await self.rpc(conn, "tools/call", params, name=tool)
        if resp.status != 200:
            return Outcome(HTTP_ERROR, str(resp.status)), msg
        if msg is None:
            return Outcome(TRANSPORT, "no_response_for_id"), None
        if "error" in msg:
            return Outcome(RPC_ERROR, str(msg["error"].get("code"))), msg
        if (msg.get("result") or {}).get("isError"):
            return Outcome(TOOL_ERROR, "isError"), msg
        return OUTCOME_OK, msg

    async def close(self, conn: Link | None) -> None:
        """End a legacy session with DELETE (405 and failures are fine)."""
        if self.era != "legacy" or not self.session_id:
            return
        try:
            if conn is None or conn.closed:
                conn = await self._connect()
            headers = self._session_headers("", None)
            data = self.transport.frame("DELETE", headers)
            loop = asyncio.get_running_loop()
            await conn.request(data, loop.time() + min(self.timeout_s, 5.0))
        except (TransportError, RequestTimeout):
            pass
