"""Scenario suite configuration.

Every scenario here runs against the plugin's `mcp_server`: the bundled server unless
`--mcp-url` / `--mcp-server-cmd` say otherwise. Scenarios that call the bundled server's
tools carry `@pytest.mark.needs_tools(...)` and skip cleanly on a server whose
`tools/list` lacks them. Scenarios that read the server's memory skip when its pid is
unknown (`--mcp-url`).

Helpers for the scenarios that are more than one run:

- `stress_check(stress)`: light probe for a baseline, run `stress()`, probe until the
  server is back in the baseline's range; returns the stress result with `stress` added
  (reliability, grade, recovery_s, server_alive), recorded for the summary and report.
- `memory_series(...)`: warm up, sample the server's RSS at time zero and after each
  chunk of requests; returns the result with `memory` added (verdict, bytes/request...),
  recorded for the summary and report.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

import pytest

from pytest_mcpperf import LoadResult, LoadSpec
from pytest_mcpperf.analysis.memory import analyze
from pytest_mcpperf.analysis.stress import combine
from pytest_mcpperf.cli.memory import Plan, measure, split_evenly
from pytest_mcpperf.cli.stress import (
    ProbePolicy,
    analyze_phases,
    stress_with_recovery,
    with_stress_report,
)
from pytest_mcpperf.engine.control import list_tools
from pytest_mcpperf.target import Target

PROBE = LoadSpec(url="", pattern="throughput", rate=20.0, duration_s=1.0, concurrency=2,
                 tool="fast_compute", arguments={"input": 5}, timeout_s=5.0,
                 scenario="stress probe")
# 2 baseline seconds and 2 healthy seconds in a row: enough on loopback, and short.
POLICY = ProbePolicy(baseline_intervals=2, hold_intervals=2, timeout_s=60.0, interval_s=1.0)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_tools(*names): the scenario calls these tools; "
                            "it is skipped on a server that does not list them")


@pytest.fixture(scope="session")
def server_tools(mcp_server: Any) -> set[str]:
    """The tools the server under test lists (asked once per session)."""
    return list_tools(mcp_server.url, mcp_server.protocol_version)


@pytest.fixture(autouse=True)
def _skip_without_tools(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("needs_tools")
    if marker is None:
        return
    tools: set[str] = request.getfixturevalue("server_tools")
    missing = sorted(set(marker.args) - tools)
    if missing:
        listed = ", ".join(sorted(tools)) or "none"
        pytest.skip(f"needs the bundled server's tools {', '.join(missing)}; this server lists "
                    f"{listed} (run without --mcp-url/--mcp-server-cmd)")


@pytest.fixture(scope="session")
def load_engine() -> Any:
    """The load engine module (`run`, `arun`), for probes and measurement chunks."""
    return importlib.import_module("pytest_mcpperf.engine.runner")


def _as_list(value: LoadResult | list[LoadResult]) -> list[LoadResult]:
    return value if isinstance(value, list) else [value]


@pytest.fixture
def stress_check(mcp_server: Any, load_engine: Any, perf_client: Any
                 ) -> Callable[[Callable[[], LoadResult | list[LoadResult]]], LoadResult]:
    """Baseline probe -> `stress()` -> probe until recovered (at most 60 s)."""
    probe = PROBE.replace(url=mcp_server.url)

    def check(stress: Callable[[], LoadResult | list[LoadResult]]) -> LoadResult:
        ph = stress_with_recovery(lambda: _as_list(stress()), lambda: load_engine.run(probe),
                                  mcp_server.alive, time.monotonic, POLICY)
        result = with_stress_report(ph, analyze_phases(ph, hold=POLICY.hold_intervals))
        return perf_client.record(result)  # the stress run, reported with its `stress`
    return check


@pytest.fixture
def memory_series(mcp_server: Any, load_engine: Any, perf_client: Any
                  ) -> Callable[[LoadSpec, int], LoadResult]:
    """`memory_series(spec, chunks)`: rate x duration requests of `spec`, in chunks."""
    if mcp_server.pid is None:
        pytest.skip("the server's memory cannot be measured: --mcp-url gives no process; "
                    "use --mcp-server-cmd so that the plugin spawns it")
    target = Target(mcp_server.url, mcp_server.pid)

    def series(spec: LoadSpec, chunks: int) -> LoadResult:
        total = max(chunks, round(spec.rate * spec.duration_s))
        plan = Plan(split_evenly(total, chunks))
        warmup = max(10, total // 5)
        m = measure(target, spec, plan, load_engine.run, warmup, time.monotonic, lambda _s: None)
        a = analyze(m.samples)
        t = combine(m.tallies)
        first, peak, last = (m.samples[0].rss_bytes, max(s.rss_bytes for s in m.samples),
                             m.samples[-1].rss_bytes)
        mb = 1024 * 1024
        return perf_client.record({
            "scenario": spec.scenario, "pattern": spec.pattern,
            "requests": {"scheduled": t.scheduled, "sent": t.sent, "completed": t.completed,
                         "ok": t.ok, "failed": t.failed},
            "server": {"rss_mb": {"start": first / mb, "peak": peak / mb, "end": last / mb},
                       "growth_percent": a.growth_percent, "samples": len(m.samples),
                       "alive": m.server_alive},
            "memory": a.to_report(),
        })
    return series

