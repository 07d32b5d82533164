"""The report writers: a plugin object per format `--perf-report` asks for (json, html),
created only on the xdist controller (workers send their results on the test reports)."""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pytest_mcpperf.result import SCHEMA


def environment(config: pytest.Config) -> dict[str, Any]:
    """Where the run happened: enough to tell two reports' machines apart.

    Implementations of the `pytest_mcpperf_update_environment` hook add to it.
    """
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "pytest": pytest.__version__,
        "xdist_workers": getattr(config.option, "numprocesses", None),
        "argv": list(config.invocation_params.args),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    config.hook.pytest_mcpperf_update_environment(config=config, environment=env)
    return env


def build_report(
    entries: Sequence[dict[str, Any]], env: dict[str, Any], plugin_version: str
) -> dict[str, Any]:
    """The pytest report: `{schema, plugin_version, environment, results}`."""
    return {
        "schema": SCHEMA,
        "plugin_version": plugin_version,
        "environment": env,
        "results": list(entries),
    }


class PerfReport:
    """Writes the collected load results to `path` when the session finishes."""

    def __init__(
        self,
        config: pytest.Config,
        path: Path,
        entries: Callable[[], Sequence[dict[str, Any]]],
        plugin_version: str,
        fmt: str = "json",
    ) -> None:
        self.fmt = fmt
        self.config = config
        self.path = path if path.is_absolute() else config.invocation_params.dir / path
        self.entries = entries
        self.plugin_version = plugin_version

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        report = build_report(self.entries(), environment(self.config), self.plugin_version)
        if self.fmt == "html":
            from pytest_mcpperf import htmlreport

            htmlreport.write(self.path, [(self.path.name, _finite(report))])
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        text = json.dumps(_finite(report), indent=2, allow_nan=False, default=str)
        tmp.write_text(text + "\n")
        tmp.replace(self.path)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        what = "HTML report" if self.fmt == "html" else "report"
        terminalreporter.write_sep("-", f"mcpperf {what}: {self.path}")


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such a figure becomes null (not measured)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


__all__ = ["PerfReport", "build_report", "environment"]
