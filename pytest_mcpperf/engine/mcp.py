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

from pytest_mcpperf.engine.sse import SseEvent
from pytest_mcpperf.engine.transport import Link, Reply, Template, Transport
from pytest_mcpperf.errors import RequestError
from pytest_mcpperf.version import __version__
from pytest_mcpperf.vocabulary import (
    CLASS_NAMES,
    HTTP_ERROR,
    LEGACY,
    MODERN,
    OK,
    PROTOCOL,
    PROTOCOL_ALIASES,
    PROTOCOLS,
    RPC_ERROR,
    TOOL_ERROR,
    TRANSPORT,
)

CLIENT_INFO = {"name": "mcpperf", "version": __version__}
MAX_RESUMPTIONS = 16  # one request's stream may be resumed this often
ACCEPT = "application/json, text/event-stream"


class McpError(Exception):
    """A control-path exchange (handshake, discover) did not succeed."""


class McpAuthError(McpError):
    """The server refused the handshake with HTTP 401 or 403: credentials are missing."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
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
    """Classify a tools/call response whose JSON-RPC id should be `rid`.

    Anything that is not a JSON-RPC 2.0 response to `rid` with a result or an error is a
    `protocol` breach, with a code that says which rule it broke.
    """
    if resp.status != 200:
        return Outcome(HTTP_ERROR, str(resp.status))
    events = resp.events
    if events is None:
        try:
            msg = json.loads(resp.body)
        except ValueError:
            return Outcome(PROTOCOL, "invalid_json")
    else:
        found = _find_event(events, rid)
        if found is None:
            return Outcome(PROTOCOL, "no_response_for_id")
        msg = found
    if not isinstance(msg, dict):
        return Outcome(PROTOCOL, "not_an_object")
    if msg.get("jsonrpc") != "2.0":
        return Outcome(PROTOCOL, "no_jsonrpc")
    if msg.get("id") != rid:
        return Outcome(PROTOCOL, "wrong_id")
    err = msg.get("error")
    if err is not None:
        code = err.get("code") if isinstance(err, dict) else None
        return Outcome(RPC_ERROR, str(code))
    if "result" not in msg:
        return Outcome(PROTOCOL, "no_result")
    result = msg["result"]
    if isinstance(result, dict) and result.get("isError"):
        return Outcome(TOOL_ERROR, "isError")
    return OUTCOME_OK


def find_response(resp: Reply, rid: int | str | None) -> dict[str, Any] | None:
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
    return _find_event(resp.events, rid)


def _find_event(events: list[SseEvent], rid: int | str | None) -> dict[str, Any] | None:
    for event in events:
        try:
            msg = json.loads(event.data)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("id") == rid and ("result" in msg or "error" in msg):
            return msg
    return None


def resumable(resp: Reply) -> str | None:
    """The `Last-Event-ID` to resume from: an event stream ended with no answer but an id.

    Transports without event streams (or their replies) have no such id.
    """
    if resp.events is None or resp.events or resp.status != 200:
        return None
    last: str | None = getattr(resp, "last_event_id", None)
    return last or None


def setup_failure(method: str, resp: Reply) -> str:
    """Why a setup exchange failed, saying what a 401/403/redirect means and the fix."""
    status = resp.status
    if status == 401:
        challenge = resp.headers.get("www-authenticate")
        how = f" (WWW-Authenticate: {challenge})" if challenge else ""
        return f"{method} answered HTTP 401: the server requires authentication{how}"
    if status == 403:
        return (
            f"{method} answered HTTP 403: the server refuses this client (authorization "
            "or an Origin/host check; a server that checks hosts must allow 127.0.0.1)"
        )
    if 300 <= status < 400:
        where = resp.headers.get("location")
        to = f" to {where}" if where else " (no Location header)"
        return (
            f"{method} answered HTTP {status}, a redirect{to}: redirects are not followed "
            "during a load test; use the URL it points to as the MCP endpoint"
        )
    return f"{method} failed: HTTP {status} {resp.body[:200]!r}"


_CLASS_INDEX = {name: index for index, name in enumerate(CLASS_NAMES)}


def transport_outcome(exc: RequestError) -> Outcome:
    """Outcome of a request that raised: its class and code come from the error's type."""
    return Outcome(_CLASS_INDEX.get(exc.error_class, TRANSPORT), exc.code)


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
        self._last_setup: Reply | None = None

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
                last = self._last_setup
                if last is not None and last.status >= 300 and last.status != 404:
                    raise McpError(setup_failure("server/discover", last))
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
        self._last_setup = resp
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
            raise McpAuthError(resp.status, setup_failure("initialize", resp))
        if resp.status != 200 or not isinstance(result, dict):
            raise McpError(setup_failure("initialize", resp))
        self.protocol_version = str(result.get("protocolVersion") or LEGACY)
        self.server_info = dict(result.get("serverInfo") or {})
        self.session_id = resp.headers.get("mcp-session-id")
        conn, resp, _ = await self.rpc(conn, "notifications/initialized", None, notification=True)
        if resp.status not in (200, 202, 204):
            raise McpError(setup_failure("notifications/initialized", resp))
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
            except (McpError, RequestError):
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
        deadline = loop.time() + self.timeout_s
        resp = await conn.request(data, deadline)
        if resumable(resp):
            conn, resp = await self.resume(conn, resp, deadline)
        found = find_response(resp, rid) if rid is not None else None
        return conn, resp, found

    async def resume(self, conn: Link, resp: Reply, deadline: float) -> tuple[Link, Reply]:
        """Resume an event stream that ended before its answer (2025-11-25 resumption).

        The server closed the POST's stream after an event with an id; the answer comes on
        a GET with `Last-Event-ID`. Resumption continues the same request (it is not a
        retry) until the answer, a stream without an id, or the deadline (`deadline` in
        loop time).
        """
        loop = asyncio.get_running_loop()
        last = resumable(resp)
        tries = 0
        while last is not None and tries < MAX_RESUMPTIONS:
            tries += 1
            if conn.closed:
                conn = await self.transport.connect(max(0.001, min(10.0, deadline - loop.time())))
            headers = {"Accept": "text/event-stream", "Last-Event-ID": last}
            if self.protocol_version:
                headers["MCP-Protocol-Version"] = self.protocol_version
            if self.session_id:
                headers["Mcp-Session-Id"] = self.session_id
            resp = await conn.request(self.transport.frame("GET", headers), deadline)
            next_last = resumable(resp)
            if next_last == last:
                break  # the server replays nothing new: do not spin
            last = next_last
        return conn, resp

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
            return Outcome(PROTOCOL, "no_response_for_id"), None
        if "error" in msg:
            return Outcome(RPC_ERROR, str(msg["error"].get("code"))), msg
        if (msg.get("result") or {}).get("isError"):
            return Outcome(TOOL_ERROR, "isError"), msg
        return OUTCOME_OK, msg

    async def close(self, conn: Link | None) -> None:
        """End a legacy session with DELETE (405 and failures are fine)."""
        if self.era != "legacy" or not self.session_id:
            return
        opened: Link | None = None
        try:
            if conn is None or conn.closed:
                conn = opened = await self._connect()
            headers = self._session_headers("", None)
            data = self.transport.frame("DELETE", headers)
            loop = asyncio.get_running_loop()
            await conn.request(data, loop.time() + min(self.timeout_s, 5.0))
        except RequestError:
            pass
        finally:
            if opened is not None:
                opened.close()  # opened only for the DELETE: not left behind
