"""Hooks that pytest-mcpperf calls; implement them in a conftest.py or a plugin.

Registered by the plugin through `pytest_addhooks`, so pytest checks an
implementation's argument names like any hook's.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_mcpperf_update_environment(config: pytest.Config, environment: dict[str, Any]) -> None:
    """Add to (or change) the JSON report's `environment` before it is written.

    `environment` holds python, platform, machine, cpu_count, pytest, xdist_workers,
    argv and finished_at; a CI run might add its commit or runner name. Values must be
    JSON-serialisable. Called once, on the xdist controller, when `--perf-report` writes
    the report.
    """


@pytest.hookspec
def pytest_mcpperf_result(item: pytest.Item, result: dict[str, Any]) -> None:
    """See each load result of `item` before it is recorded.

    `result` is the report object (`scenario`, `requests`, `latency_ms`, `server`,
    `criteria`, and `stress` or `memory` when a fixture added them); changes made to it
    are what the summary and the JSON report get. Called in the process that ran the
    test (an xdist worker, under xdist), once per `perf_client.run()`/`arun()`/`record()`
    and per `stress_check`/`memory_series` call.
    """
