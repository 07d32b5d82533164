"""pytest-mcpperf: performance scenarios for MCP servers as ordinary pytest tests."""

from __future__ import annotations

from pytest_mcpperf.analysis.criteria import (
    assert_error_rate,
    assert_memory_growth,
    assert_p99,
    assert_percentile,
    assert_recovery,
    assert_throughput,
)
from pytest_mcpperf.errors import (
    ConfigError,
    McpPerfError,
    ProtocolError,
    RequestError,
    RequestTimeout,
    TargetError,
    TransportError,
)
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec, ToolCall
from pytest_mcpperf.target import Target
from pytest_mcpperf.version import __version__

__all__ = [
    "ConfigError",
    "LoadResult",
    "LoadSpec",
    "McpPerfError",
    "ProtocolError",
    "RequestError",
    "RequestTimeout",
    "Target",
    "TargetError",
    "ToolCall",
    "TransportError",
    "__version__",
    "assert_error_rate",
    "assert_memory_growth",
    "assert_p99",
    "assert_percentile",
    "assert_recovery",
    "assert_throughput",
]
