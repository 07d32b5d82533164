"""The objects behind the `mcp_server` and `perf_client` fixtures (declared in plugin.py).

Nothing here imports pytest: the fixtures hand in what these objects need as callables
(how to build a spec, the engine, where to record a result), so unit tests can drive
them with fakes.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from pytest_mcpperf.analysis.criteria import check_thresholds, failure_message
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.settings import RunSettings
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import Target

RESULT_PROPERTY = "mcpperf/result"


Progress = Callable[[Any], None]


class Engine(Protocol):
    """The load engine's contract (`pytest_mcpperf.engine.runner`)."""

    def run(self, spec: LoadSpec, *, progress: Progress | None = None) -> LoadResult: ...

    def arun(self, spec: LoadSpec, *,
             progress: Progress | None = None) -> Awaitable[LoadResult]: ...


class ProgressLines:
    """Turns the engine's progress updates (about one a second) into a line every `every_s`.

    An update has `elapsed_s`, `sent`, `ok`, `failed` and `rps`; `write` gets the text.
    """

    def __init__(self, name: str, write: Callable[[str], None], every_s: float = 5.0) -> None:
        self.name = name
        self.write = write
        self.every_s = every_s
        self._next = every_s

    def __call__(self, update: Any) -> None:
        if update.elapsed_s < self._next:
            return
        self._next = update.elapsed_s + self.every_s
        self.write(f"mcpperf {self.name}: {update.elapsed_s:.0f}s, sent {update.sent}, "
                   f"ok {update.ok}, failed {update.failed}, {update.rps:.0f} rps")


ENGINE_MODULE = "pytest_mcpperf.engine.runner"


def load_engine() -> Engine:
    """The load engine, imported on first use so plugin start-up stays fast."""
    return cast(Engine, importlib.import_module(ENGINE_MODULE))


# ---------------------------------------------------------------- mcp_server


def start_server(run: RunSettings) -> Target:
    """Reach `--mcp-url`, or spawn `--mcp-server-cmd` / the bundled server on a free port."""
    if run.url:
        return Target.at_url(run.url, front_end="pytest", reach_timeout_s=run.startup_timeout)
    return Target.spawn(run.server_cmd or None, startup_timeout_s=run.startup_timeout,
                        front_end="pytest")


# ---------------------------------------------------------------- perf_client


@dataclass(frozen=True)
class Plan:
    """What one `run()` will do: the spec and the thresholds to check afterwards."""

    spec: LoadSpec
    thresholds: tuple[str, ...]


class PerfClient:
    """Runs the load engine with the test's `load` marker settings.

    `run(**overrides)` for sync tests, `await arun(**overrides)` for async ones; keyword
    overrides use the marker's names (rate=, duration=, ...). After each run the marker's
    `thresholds` are checked like assertions, and the result is recorded for the summary
    and the JSON report whether they pass or not. `results` holds every run's result.
    """

    def __init__(self, *, plan: Callable[[Mapping[str, Any]], Plan],
                 engine: Callable[[], Engine], record: Callable[[dict[str, Any]], None],
                 check_server: Callable[[], None], progress: Progress | None = None) -> None:
        self._plan = plan
        self._engine = engine
        self._record = record
        self._check_server = check_server
        self._progress = progress
        self.results: list[LoadResult] = []

    def spec(self, **overrides: Any) -> LoadSpec:
        """The LoadSpec that `run(**overrides)` would execute."""
        return self._plan(overrides).spec

    def run(self, **overrides: Any) -> LoadResult:
        """Run the scenario to completion (safe also when an event loop is running)."""
        __tracebackhide__ = True
        plan = self._begin(overrides)
        return self._finish(plan, self._engine().run(plan.spec, progress=self._progress))

    async def arun(self, **overrides: Any) -> LoadResult:
        """Run the scenario from an async test (pytest-asyncio)."""
        __tracebackhide__ = True
        plan = self._begin(overrides)
        result = await self._engine().arun(plan.spec, progress=self._progress)
        return self._finish(plan, result)

    def record(self, result: Mapping[str, Any]) -> LoadResult:
        """Record a result this test built from its runs, e.g. with `stress` or `memory`.

        A result that extends one already recorded (the same `started_at`) replaces it
        in the summary and the JSON report; any other is added.
        """
        entry = LoadResult(result).to_dict()
        self._record(entry)
        recorded = LoadResult(entry)
        key = entry.get("started_at")
        same = [i for i, r in enumerate(self.results) if key and r.get("started_at") == key]
        if same:
            self.results[same[-1]] = recorded
        else:
            self.results.append(recorded)
        return recorded

    def _begin(self, overrides: Mapping[str, Any]) -> Plan:
        plan = self._plan(overrides)
        self._check_server()
        return plan

    def _finish(self, plan: Plan, result: LoadResult) -> LoadResult:
        __tracebackhide__ = True
        outcomes = check_thresholds(result, plan.thresholds)
        entry = result.to_dict()
        entry["criteria"] = [*entry.get("criteria", []), *(o.to_dict() for o in outcomes)]
        self._record(entry)
        result = LoadResult(entry)
        self.results.append(result)
        self._check_server()
        failed = [o for o in outcomes if not o.passed]
        if failed:
            raise AssertionError(failure_message(failed))
        return result
