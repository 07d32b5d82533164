"""The seam between an MCP session and the bytes on the wire.

`McpSession` speaks JSON-RPC and knows the protocol eras; a `Transport` knows how a
message is framed and carried. Streamable HTTP (`engine.http`) is one transport; another
(stdio, say) is a module beside it that implements these protocols, not a branch in the
generator or the session.

The hot path asks a transport once per (tool, arguments) for a `Template`, then per
request only for `template.encode(rid)`: one bytes object, no JSON encoding.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Protocol

from pytest_mcpperf.engine.sse import SseEvent


class Reply(Protocol):
    """One whole answer to one request.

    `status` is the HTTP status (200 for a transport without one); `body` the raw
    payload; `events` the decoded SSE events when the answer was an event stream.
    """

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def body(self) -> bytes: ...

    @property
    def events(self) -> list[SseEvent] | None: ...


class Link(Protocol):
    """One open connection: one request in flight at a time."""

    closed: bool

    def request(self, data: bytes, deadline: float) -> Awaitable[Reply]:
        """Send framed `data`; resolve to the reply, or raise `RequestError`.

        `deadline` is in the running loop's `time()` units.
        """
        ...

    def close(self) -> None: ...


class Template(Protocol):
    """A request framed once, with a hole for the JSON-RPC id."""

    def encode(self, rid: int) -> bytes: ...


class Transport(Protocol):
    """How to reach one server and frame requests for it."""

    def connect(self, timeout_s: float) -> Awaitable[Link]:
        """Open a link; raise `TransportError` (typed, with its report code) on failure."""
        ...

    def frame(self, method: str, headers: Mapping[str, str], body: bytes = b"") -> bytes:
        """Frame one request sent once (control path). `method` is the HTTP verb."""
        ...

    def template(self, headers: Mapping[str, str], before: bytes, after: bytes) -> Template:
        """Frame the body `before + str(rid) + after` once, for many ids."""
        ...
