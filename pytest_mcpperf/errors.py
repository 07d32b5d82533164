"""Every error pytest-mcpperf raises on purpose, in one place.

Messages say what went wrong and end with what to do about it.
"""

from __future__ import annotations


class McpPerfError(Exception):
    """Base class of all pytest-mcpperf errors."""


class ConfigError(McpPerfError, ValueError):
    """A setting (marker keyword, option, env var, ini key) has a bad value."""


class TargetError(McpPerfError):
    """The server under test could not be started, reached, or it died."""


class ProtocolError(McpPerfError):
    """The server answered something that is not valid MCP."""
