"""The objects behind the plugin's fixtures (declared in plugin.py): `mcp_server`,
`perf_client`, and the `stress_check` and `memory_series` procedures.

Nothing here imports pytest: the fixtures hand in what these objects need as callables
(how to build a spec, the engine, where to record a result), so unit tests can drive
them with fakes.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from pytest_mcpperf.analysis import memory, stress
from pytest_mcpperf.analysis.compare import (
    Gate,
    summaries_of,
    text_lines,
    with_repeats,
)
from pytest_mcpperf.analysis.compare import compare as compare_runs
from pytest_mcpperf.analysis.criteria import check_memory, check_thresholds, failure_message
from pytest_mcpperf.analysis.server import MeasuredServer, RunOne
from pytest_mcpperf.baseline import Baseline
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.progress import LiveProgress
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.settings import PYTEST, RunSettings
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import Target

RESULT_PROPERTY = "mcpperf/result"


Progress = Callable[[Any], None]


class Engine(Protocol):
    """The load engine's contract (`pytest_mcpperf.engine.runner`)."""

    def run(self, spec: LoadSpec, *, progress: Progress | None = None) -> LoadResult: ...

    def arun(
        self, spec: LoadSpec, *, progress: Progress | None = None
    ) -> Awaitable[LoadResult]: ...


ENGINE_MODULE = "pytest_mcpperf.engine.runner"


def load_engine() -> Engine:
    """The load engine, imported on first use so plugin start-up stays fast."""
    return cast(Engine, importlib.import_module(ENGINE_MODULE))


# ---------------------------------------------------------------- mcp_server


def start_server(run: RunSettings) -> Target:
    """Reach `--mcp-url`, or spawn `--mcp-server-cmd` / the bundled server on a free port
    (over stdio with `--mcp-transport stdio`), with `--mcp-server-env` added to its
    environment and `--mcp-server-path` as its endpoint."""
    if run.url:
        # A server said to be running answers at once: --mcp-startup-timeout is for spawning.
        target = Target.at_url(run.url, front_end="pytest")
    else:
        target = Target.spawn(
            run.server_cmd or None,
            startup_timeout_s=run.startup_timeout,
            front_end="pytest",
            transport=run.transport,
            env={**os.environ, **run.server_env} if run.server_env else None,
            path=run.server_path,
            processes=run.server_processes,
        )
    target.version_probe = wire().probe_version
    return target


def wire() -> Any:
    """engine.wire, imported late (the pytest layer loads the engine when a test runs)."""
    return importlib.import_module("pytest_mcpperf.engine.wire")


# ---------------------------------------------------------------- perf_client


@dataclass(frozen=True)
class Plan:
    """What one `run()` will do: the spec and the thresholds to check afterwards, and
    the memory check's growth limit in percent (0.0: no memory check)."""

    spec: LoadSpec
    thresholds: tuple[str, ...]
    memory_check: float = 0.0
    memory_check_source: str = "memory_check"


#: the LoadSpec fields that say how to reach the server under test
REACH_FIELDS = ("url", "transport", "server_cmd", "server_processes", "headers")


class PerfClient:
    """Runs the load engine with the test's `load` marker settings.

    `run(**overrides)` for sync tests, `await arun(**overrides)` for async ones; keyword
    overrides use the marker's names (rate=, duration=, ...). After each run the marker's
    `thresholds` are checked like assertions, and the result is recorded for the summary
    and the JSON report whether they pass or not. `results` holds every run's result.
    """

    def __init__(
        self,
        *,
        plan: Callable[[Mapping[str, Any]], Plan],
        engine: Callable[[], Engine],
        record: Callable[[dict[str, Any]], None],
        check_server: Callable[[], None],
        progress: Callable[[LoadSpec], LiveProgress] | None = None,
        repeat: int = 1,
        compare: Compare | None = None,
    ) -> None:
        self._plan = plan
        self._engine = engine
        self._record = record
        self._check_server = check_server
        self._progress = progress
        self._repeat = repeat
        self._compare = compare
        self.results: list[LoadResult] = []

    def spec(self, **overrides: Any) -> LoadSpec:
        """The LoadSpec that `run(**overrides)` would execute."""
        return self._plan(overrides).spec

    def reach(self) -> dict[str, Any]:
        """How this test's runs reach the server (URL, transport, stdio command and its
        copies, headers): what a fixture's own runs, such as stress probes, reuse."""
        spec = self.spec()
        return {f: getattr(spec, f) for f in REACH_FIELDS}

    def run(self, **overrides: Any) -> LoadResult:
        """Run the scenario to completion (safe also when an event loop is running)."""
        __tracebackhide__ = True
        plan = self._begin(overrides)
        runs = [self._run_once(plan) for _ in range(self._repeat)]
        return self._finish(plan, _repeated(runs))

    def _run_once(self, plan: Plan) -> LoadResult:
        live = self._progress(plan.spec) if self._progress is not None else None
        try:
            return self._engine().run(plan.spec, progress=live)
        finally:
            if live is not None:
                live.close()

    async def arun(self, **overrides: Any) -> LoadResult:
        """Run the scenario from an async test (pytest-asyncio)."""
        __tracebackhide__ = True
        plan = self._begin(overrides)
        runs = [await self._arun_once(plan) for _ in range(self._repeat)]
        return self._finish(plan, _repeated(runs))

    async def _arun_once(self, plan: Plan) -> LoadResult:
        live = self._progress(plan.spec) if self._progress is not None else None
        try:
            return await self._engine().arun(plan.spec, progress=live)
        finally:
            if live is not None:
                live.close()

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
        if plan.memory_check:
            outcome, memory = check_memory(
                result, plan.memory_check, plan.memory_check_source, PYTEST
            )
            outcomes.append(outcome)
            if memory is not None:
                entry.setdefault("memory", memory)
        entry["criteria"] = [*entry.get("criteria", []), *(o.to_dict() for o in outcomes)]
        comparison = self._compare(len(self.results), entry) if self._compare else None
        if comparison is not None:
            entry["comparison"] = comparison
        self._record(entry)
        result = LoadResult(entry)
        self.results.append(result)
        self._check_server()
        failed = [o for o in outcomes if not o.passed]
        messages = [failure_message(failed)] if failed else []
        if comparison is not None and comparison.get("failed"):
            messages.append(str(comparison["message"]))
        if messages:
            raise AssertionError("\n".join(messages))
        return result


def _repeated(runs: list[LoadResult]) -> LoadResult:
    """One result for the repeats of a run: the median one, with every repeat and the
    spread (a single run unchanged)."""
    return runs[0] if len(runs) == 1 else LoadResult(with_repeats([r.to_dict() for r in runs]))


# ---------------------------------------------------------------- baselines

#: (index of the run in its test, its report entry) -> the entry's `comparison`, or None
Compare = Callable[[int, dict[str, Any]], dict[str, Any] | None]


class BaselineCompare:
    """Compares each run of a test with the same run of a saved baseline.

    A baseline from another machine gives a comparison that warns (`warn`) and never
    fails, unless `force`. A scenario the baseline lacks is reported, not failed.
    """

    def __init__(
        self,
        found: Baseline | None,
        name: str,
        gates: tuple[Gate, ...],
        *,
        force: bool,
        here: Mapping[str, Any],
        warn: Callable[[str], None],
    ) -> None:
        self.found = found
        self.name = name
        self.gates = gates
        self.force = force
        self.here = here
        self.warn = warn

    def for_test(self, nodeid: str) -> Compare:
        def compare(index: int, entry: dict[str, Any]) -> dict[str, Any] | None:
            key = nodeid if index == 0 else f"{nodeid} #{index + 1}"
            return self.compare(key, entry)

        return compare

    def compare(self, key: str, entry: dict[str, Any]) -> dict[str, Any] | None:
        if self.found is None:
            self.warn(
                f"no baseline {self.name!r} to compare {key} with: save one first with "
                f"--perf-save={self.name}"
            )
            return None
        saved = self.found.scenarios.get(key)
        if not saved:
            self.warn(
                f"baseline {self.name!r} ({self.found.path}) has no runs of {key}: save it "
                f"again with --perf-save={self.name}"
            )
            return None
        c = compare_runs(saved, summaries_of(entry), self.gates)
        out = c.to_dict()
        out["baseline"] = {"name": self.name, "saved_at": self.found.saved_at}
        title = f"{key} against baseline {self.name!r} (saved {self.found.saved_at})"
        out["message"] = "\n".join([f"mcpperf comparison of {title}:", *text_lines(c)])
        if not self.found.same_machine:
            warning = (
                f"baseline {self.name!r} was saved on another machine "
                f"({self.found.mismatch(self.here)}): its figures are no evidence about "
                f"this one, so {key} is not failed on them; save a baseline here, or "
                "pass --perf-compare-force"
            )
            out["warning"] = warning
            self.warn(warning)
            out["failed"] = bool(c.failed and self.force)
        return out


# ---------------------------------------------------------------- stress_check, memory_series


Record = Callable[[Mapping[str, Any]], LoadResult]
Stress = Callable[[], LoadResult | list[LoadResult]]

#: The fixture's probe: 2 baseline seconds and 2 healthy seconds in a row, enough on
#: loopback and short; a test may pass its own `ProbePolicy`.
QUICK_PROBE = stress.ProbePolicy(
    baseline_intervals=2, hold_intervals=2, timeout_s=60.0, interval_s=1.0
)


class StressCheck:
    """`stress_check(stress, policy=None)`: probe, stress, probe until recovered, score.

    The light probe (`policy`, QUICK_PROBE by default) records the healthy range;
    `stress()` runs (it returns one result, or a list whose first is the run expected to
    succeed and the rest deliberate faults); the probe runs until p99 and error rate are
    back in range. Returns the stress run's result with `stress` added (reliability,
    grade, recovery_s, server_alive, passed), recorded for the summary and the report.
    """

    def __init__(
        self,
        server: MeasuredServer,
        run: RunOne,
        record: Record,
        clock: Callable[[], float] = time.monotonic,
        policy: stress.ProbePolicy = QUICK_PROBE,
        reach: Callable[[], Mapping[str, Any]] = dict,
    ) -> None:
        self.server = server
        self.run = run
        self.record = record
        self.clock = clock
        self.policy = policy
        self.reach = reach  # how the test's own runs reach the server: probes do the same

    def __call__(
        self, stress_run: Stress, *, policy: stress.ProbePolicy | None = None
    ) -> LoadResult:
        policy = policy or self.policy
        probe = dataclasses.replace(policy.probe_spec(self.server.url, "pytest"), **self.reach())
        ph = stress.stress_with_recovery(
            lambda: _as_list(stress_run()),
            lambda: self.run(probe),
            self.server.alive,
            self.clock,
            policy,
        )
        a = stress.analyze_phases(ph, hold=policy.hold_intervals)
        return self.record(stress.build_report(ph, a))


def _as_list(value: LoadResult | list[LoadResult]) -> list[LoadResult]:
    return value if isinstance(value, list) else [value]


class MemorySeries:
    """`memory_series(spec, chunks=10, warmup_requests=None)`: the server's RSS per request.

    Sends `spec.rate x spec.duration_s` requests of `spec` (open loop, so `rate` > 0)
    in `chunks` chunks after a warm-up (a fifth of them, at least 10, unless given),
    and samples the server's RSS at time zero and after each chunk. Returns the result
    with `memory` added (verdict, bytes_per_request, growth_percent, ...: the analysis
    `mcpperf memory` uses), recorded for the summary and the report.
    """

    def __init__(
        self,
        server: MeasuredServer,
        run: RunOne,
        record: Record,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server = server
        self.run = run
        self.record = record
        self.clock = clock

    def __call__(
        self, spec: LoadSpec, chunks: int = 10, *, warmup_requests: int | None = None
    ) -> LoadResult:
        if spec.rate <= 0 or chunks < 1:
            raise ConfigError(
                f"memory_series needs an open-loop spec with a rate and 1 or more "
                f"chunks, got rate={spec.rate:g}, chunks={chunks}: pass "
                'perf_client.spec(pattern="throughput", rate=...)'
            )
        total = max(chunks, round(spec.rate * spec.duration_s))
        plan = memory.ChunkPlan(memory.split_evenly(total, chunks))
        warmup = max(10, total // 5) if warmup_requests is None else warmup_requests
        m = memory.measure(self.server, spec, plan, self.run, warmup, self.clock)
        a = memory.analyze(m.samples)
        return self.record(memory.build_report(spec.scenario, self.server, spec, m, a, warmup))
