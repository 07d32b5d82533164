"""Run-level state of the plugin: the effective settings and every load result seen.

One `PerfSession` per pytest run, kept under a `StashKey` on the config and registered
as a plugin so it sees every test report. Results arrive on the reports' user_properties
(the channel that survives pytest-xdist), so on the controller this object sees the
results of every worker. Each result travels as compact JSON text: plain data for
xdist, and a readable property for `--junitxml`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_mcpperf import baseline
from pytest_mcpperf.analysis.compare import markdown, summaries_of
from pytest_mcpperf.fixtures import RESULT_PROPERTY
from pytest_mcpperf.settings import CompareSettings, RunSettings
from pytest_mcpperf.summary import run_names


class PerfSession:
    """The plugin's state for one run: settings, and the load results in report order."""

    def __init__(self, settings: RunSettings, comparing: CompareSettings | None = None) -> None:
        self.settings = settings
        self.comparing = comparing or CompareSettings()
        self.entries: list[dict[str, Any]] = []
        self.saved_to: Path | None = None

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect the results a test recorded, with its nodeid and call outcome."""
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == RESULT_PROPERTY and isinstance(value, str):
                self.entries.append(
                    {"nodeid": report.nodeid, "outcome": report.outcome, **json.loads(value)}
                )

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """On the controller: save the baseline (--perf-save), write the markdown tables."""
        if hasattr(session.config, "workerinput"):
            return
        c = self.comparing
        if c.save and self.entries:
            runs = {
                name: summaries_of(entry)
                for entry, name in zip(self.entries, run_names(self.entries), strict=True)
            }
            self.saved_to = baseline.save(c.baseline_dir, c.save, runs)
        compared = [e for e in self.entries if isinstance(e.get("comparison"), dict)]
        path = c.markdown or os.environ.get("GITHUB_STEP_SUMMARY")
        if compared and path:
            tables = [markdown(e["comparison"], str(e["nodeid"])) for e in compared]
            baseline.append_markdown("\n".join(tables), path)


def encode(entry: dict[str, Any]) -> tuple[str, str]:
    """A result as the user_properties entry `(RESULT_PROPERTY, JSON text)`."""
    return RESULT_PROPERTY, json.dumps(entry, separators=(",", ":"), default=str)


def recorder(item: pytest.Item) -> Callable[[dict[str, Any]], None]:
    """Where `perf_client` records a result: the item's user_properties.

    Implementations of the `pytest_mcpperf_result` hook see (and may change) each entry
    first. An entry with the `started_at` of one already there replaces it (a scenario
    that adds its analysis to a run's result), so each run is reported once.
    """

    def record(entry: dict[str, Any]) -> None:
        item.config.hook.pytest_mcpperf_result(item=item, result=entry)
        prop = encode(entry)
        key = entry.get("started_at")
        for i, (name, value) in enumerate(item.user_properties):
            if (
                key
                and name == RESULT_PROPERTY
                and isinstance(value, str)
                and json.loads(value).get("started_at") == key
            ):
                item.user_properties[i] = prop
                return
        item.user_properties.append(prop)

    return record


session_key = pytest.StashKey[PerfSession]()
