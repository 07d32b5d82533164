"""fixtures.py: PerfClient and progress.LiveProgress with fakes (no pytest wiring, no server)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_mcpperf.fixtures import PerfClient, Plan
from pytest_mcpperf.progress import PERIODIC, LiveProgress, StreamSink
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec


class FakeEngine:
    """Returns a result whose p99 is the spec's rate, so tests can steer thresholds."""

    def __init__(self) -> None:
        self.specs: list[LoadSpec] = []

    def _result(self, spec: LoadSpec) -> LoadResult:
        self.specs.append(spec)
        return LoadResult(
            {
                "requests": {"ok": 10, "failed": 0},
                "latency_ms": {"p99": spec.rate},
                "criteria": [{"name": "engine's own", "passed": True}],
            }
        )

    def run(self, spec: LoadSpec, *, progress: Any = None) -> LoadResult:
        return self._result(spec)

    async def arun(self, spec: LoadSpec, *, progress: Any = None) -> LoadResult:
        return self._result(spec)


def make_client(thresholds: tuple[str, ...] = ()) -> tuple[PerfClient, FakeEngine, list[Any]]:
    engine = FakeEngine()
    events: list[Any] = []

    def plan(overrides: Mapping[str, Any]) -> Plan:
        return Plan(LoadSpec(url="http://h/mcp", rate=overrides.get("rate", 50)), thresholds)

    client = PerfClient(
        plan=plan,
        engine=lambda: engine,
        record=events.append,
        check_server=lambda: events.append("check"),
    )
    return client, engine, events


def test_run_applies_overrides_records_and_checks_the_server() -> None:
    client, engine, events = make_client(("p99<100ms",))
    result = client.run(rate=70)
    assert engine.specs[0].rate == 70
    assert result.latency_ms.p99 == 70
    assert (events[0], events[2]) == ("check", "check")  # before and after the run
    assert [c["name"] for c in events[1]["criteria"]] == ["engine's own", "p99<100ms"]
    assert client.results == [result]


def test_failed_threshold_raises_after_recording() -> None:
    client, _, events = make_client(("p99<100ms",))
    with pytest.raises(
        AssertionError,
        match=r"threshold 'p99<100ms' failed: p99 latency was "
        r"150 ms",
    ):
        client.run(rate=150)
    assert events[1]["criteria"][-1] == {
        "name": "p99<100ms",
        "op": "<",
        "limit": 100.0,
        "value": 150.0,
        "passed": False,
    }


def test_arun() -> None:
    client, engine, _ = make_client()
    result = asyncio.run(client.arun(rate=5))
    assert (engine.specs[0].rate, result.requests.ok) == (5, 10)


def test_periodic_progress_writes_a_line_every_ten_seconds() -> None:
    out = io.StringIO()
    progress = LiveProgress(StreamSink(out), PERIODIC, "t", 30.0)
    for second in range(1, 22):
        progress(
            SimpleNamespace(
                elapsed_s=float(second), sent=second, ok=second, failed=0, rps=1.0, p99_ms=2.5
            )
        )
    progress.close()
    assert out.getvalue().splitlines() == [
        "mcpperf t: 10/30 s, sent 10, ok 10, failed 0, 1 rps, p99 2.5 ms",
        "mcpperf t: 20/30 s, sent 20, ok 20, failed 0, 1 rps, p99 2.5 ms",
    ]


def test_record_replaces_the_run_it_extends_and_adds_others() -> None:
    client, _, events = make_client()
    run = client.run()
    stamped = LoadResult({**run.to_dict(), "started_at": "t1"})
    client.results[-1] = stamped
    extended = client.record({**stamped.to_dict(), "stress": {"grade": "GOOD"}})
    assert client.results == [extended]  # replaced, not added
    assert extended.stress.grade == "GOOD"
    other = client.record(LoadResult({"memory": {"verdict": "stable"}}))
    assert client.results == [extended, other]
    assert events[-1] == {"memory": {"verdict": "stable"}}


def test_recorder_replaces_the_entry_with_the_same_start() -> None:
    from types import SimpleNamespace as Item

    from pytest_mcpperf.session import recorder

    seen: list[dict[str, object]] = []

    def hook(item: object, result: dict[str, object]) -> None:
        result["seen"] = True
        seen.append(result)

    item = Item(
        user_properties=[("other", "x")], config=Item(hook=Item(pytest_mcpperf_result=hook))
    )
    record = recorder(item)  # type: ignore[arg-type]
    record({"started_at": "t1", "throughput_rps": 1.0})
    record({"started_at": "t2", "throughput_rps": 2.0})
    record({"started_at": "t1", "throughput_rps": 1.0, "stress": {"grade": "GOOD"}})
    record({"memory": {"verdict": "stable"}})
    names = [name for name, _ in item.user_properties]
    assert names == ["other", "mcpperf/result", "mcpperf/result", "mcpperf/result"]
    assert '"stress"' in item.user_properties[1][1]
    assert len(seen) == 4  # the pytest_mcpperf_result hook saw each entry first
    assert all('"seen":true' in value for name, value in item.user_properties[1:])
