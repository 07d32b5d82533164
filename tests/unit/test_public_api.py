"""The public API is what `__all__` says, no more and no less: a change here is a release note."""

from __future__ import annotations

import pytest_mcpperf

PUBLIC = [
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


def test_all_is_pinned() -> None:
    assert sorted(pytest_mcpperf.__all__) == PUBLIC


def test_every_public_name_exists() -> None:
    missing = [n for n in pytest_mcpperf.__all__ if not hasattr(pytest_mcpperf, n)]
    assert not missing


def test_request_errors_are_mcpperf_errors_with_a_report_class() -> None:
    assert issubclass(pytest_mcpperf.TransportError, pytest_mcpperf.RequestError)
    assert issubclass(pytest_mcpperf.RequestError, pytest_mcpperf.McpPerfError)
    assert pytest_mcpperf.TransportError("refused").error_class == "transport"
    assert pytest_mcpperf.RequestTimeout().error_class == "timeout"
