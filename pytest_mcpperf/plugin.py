"""pytest wiring for pytest-mcpperf (placeholder until the plugin lands)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "load(pattern, rate, duration, concurrency, users, tool, arguments, thresholds, "
        "warmup, ...): a performance scenario run by the perf_client fixture",
    )
