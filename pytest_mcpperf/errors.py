"""Every error pytest-mcpperf raises on purpose, in one place.

Messages say what went wrong and end with what to do about it. Errors of a single
request (`RequestError` and below) carry the report's error class and code, so a run
classifies them by type, never by message text.
"""

from __future__ import annotations

from typing import ClassVar


class McpPerfError(Exception):
    """Base class of all pytest-mcpperf errors."""


class ConfigError(McpPerfError, ValueError):
    """A setting (marker keyword, option, env var, ini key) has a bad value."""


class TargetError(McpPerfError):
    """The server under test could not be started, reached, or it died."""


class ProtocolError(McpPerfError):
    """The server answered something that is not valid MCP."""


class RequestError(McpPerfError):
    """One request failed below MCP; `error_class` and `code` are what the report counts.

    Codes are short and stable: `refused`, `reset`, `closed`, `connect_timeout`,
    `bad_http`, `tls`, `os_error` (transport), `timeout` (deadline), `body`/`sse_event`
    (too_large), `content_encoding` (protocol).
    """

    error_class: ClassVar[str] = "transport"

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail or code


class TransportError(RequestError):
    """The connection failed: refused, reset, closed early, not HTTP, TLS."""

    error_class = "transport"


class RequestTimeout(RequestError):
    """No complete response before the request's deadline."""

    error_class = "timeout"

    def __init__(self, code: str = "timeout", detail: str = "") -> None:
        super().__init__(code, detail)


class ResponseTooLarge(RequestError):
    """The answer (a body, or one SSE event) passed the response size limit."""

    error_class = "too_large"


class ProtocolBreach(RequestError):
    """The answer breaks a rule of HTTP, JSON-RPC or MCP that the client relies on."""

    error_class = "protocol"
