"""One-off MCP calls over httpx: the control path (probes, tool lists), never the load path.

The load path is `engine/`; this module is for the handful of requests a fixture or a
scenario makes around a run: which protocol era the server speaks, which tools it lists.
httpx is imported on first use so that plugin start-up stays fast.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from pytest_mcpperf.errors import TargetError

if TYPE_CHECKING:
    import httpx

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
_MODERN_META = {"io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {}}


def _post(client: httpx.Client, url: str, body: Mapping[str, Any],
          headers: Mapping[str, str]) -> httpx.Response:
    return client.post(url, json=dict(body), headers={
        "Accept": "application/json, text/event-stream", **headers})


def rpc_result(response: httpx.Response) -> dict[str, Any] | None:
    """The JSON-RPC result of a JSON or SSE response, None for an error."""
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        datas = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        text = next((d for d in reversed(datas) if '"id"' in d), "{}")
    with contextlib.suppress(ValueError):
        message = json.loads(text)
        if isinstance(message, dict) and isinstance(message.get("result"), dict):
            return cast(dict[str, Any], message["result"])
    return None


class ControlSession:
    """A short MCP conversation in one era: `call(method, params)` -> result or None.

    In the legacy era it initializes a session first and DELETEs it on close, so a probe
    leaves nothing behind on the server.
    """

    def __init__(self, url: str, protocol_version: str, timeout_s: float = 5.0) -> None:
        import httpx

        self.url = url
        self.protocol_version = protocol_version
        self.client = httpx.Client(timeout=timeout_s)
        self.headers: dict[str, str] = {}
        self.init_response: httpx.Response | None = None
        self._next_id = 1

    def _body(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        return {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": dict(params)}

    def open(self) -> dict[str, Any] | None:
        """Start the conversation; returns the initialize result (legacy) or None."""
        if self.protocol_version == MODERN:
            return None
        self.init_response = _post(self.client, self.url, self._body("initialize", {
            "protocolVersion": self.protocol_version, "capabilities": {},
            "clientInfo": {"name": "pytest-mcpperf", "version": "control"}}), {})
        result = rpc_result(self.init_response)
        if result is None:
            return None
        self.headers["MCP-Protocol-Version"] = str(result.get("protocolVersion", LEGACY))
        if sid := self.init_response.headers.get("mcp-session-id"):
            self.headers["Mcp-Session-Id"] = sid
        _post(self.client, self.url, {"jsonrpc": "2.0", "method": "notifications/initialized"},
              self.headers)
        return result

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        params = dict(params or {})
        headers = dict(self.headers)
        if self.protocol_version == MODERN:
            params["_meta"] = {**_MODERN_META, **params.get("_meta", {})}
            headers.update({"MCP-Protocol-Version": MODERN, "Mcp-Method": method})
            if method == "tools/call":
                headers["Mcp-Name"] = str(params.get("name", ""))
        return rpc_result(_post(self.client, self.url, self._body(method, params), headers))

    def close(self) -> None:
        import httpx

        if "Mcp-Session-Id" in self.headers:
            with contextlib.suppress(httpx.HTTPError):
                self.client.delete(self.url, headers=self.headers)
        self.client.close()

    def __enter__(self) -> ControlSession:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def probe_protocol_version(url: str, timeout_s: float = 5.0) -> str:
    """Ask the server: `server/discover` (2026-07-28) first, then a legacy `initialize`."""
    with ControlSession(url, MODERN, timeout_s) as modern:
        if modern.call("server/discover") is not None:
            return MODERN
    legacy = ControlSession(url, LEGACY, timeout_s)
    try:
        result = legacy.open()
    finally:
        legacy.close()
    if result is None or not isinstance(result.get("protocolVersion"), str):
        status = legacy.init_response.status_code if legacy.init_response is not None else "-"
        raise TargetError(f"the server at {url} answered neither server/discover nor "
                          f"initialize (HTTP {status}); check that the URL is an "
                          "MCP Streamable HTTP endpoint (usually ending in /mcp)")
    return str(result["protocolVersion"])


def list_tools(url: str, protocol_version: str, timeout_s: float = 5.0) -> set[str]:
    """Tool names from the first page of tools/list, in the server's protocol era."""
    with ControlSession(url, protocol_version, timeout_s) as session:
        result = session.call("tools/list") or {}
    return {str(t.get("name", "")) for t in result.get("tools", []) if isinstance(t, dict)}
