"""Session journeys and stdio server copies: parsing, the report's keys, the estimate of
a server that answers one request at a time (no server, no network)."""

from __future__ import annotations

import pytest

from pytest_mcpperf.engine import journey
from pytest_mcpperf.engine.mcp import Outcome
from pytest_mcpperf.engine.stdio import SERIAL_MIN_QUEUED, SerialStats, serial_note
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.settings import (
    RunSettings,
    Scenario,
    build_spec,
    header_line,
    parse_scenario,
    resolve_run_settings,
)
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.summary import serial_note as summary_note
from pytest_mcpperf.vocabulary import CLOSED_LOOP_PATTERNS, JOURNEY, PATTERNS, RPC_ERROR, option
from tests.fakeconfig import FakeConfig


def test_journey_is_a_closed_loop_pattern() -> None:
    assert JOURNEY in PATTERNS
    assert JOURNEY in CLOSED_LOOP_PATTERNS
    assert LoadSpec(url="http://x/mcp", pattern="journey").closed_loop


def test_marker_keywords() -> None:
    s = parse_scenario(
        {"pattern": "journey", "journey_calls": 0, "server_processes": 3}, "marker load"
    )
    assert s.fields == {"pattern": "journey", "journey_calls": 0, "server_processes": 3}
    with pytest.raises(ConfigError, match=r"invalid server_processes 0 from marker load"):
        parse_scenario({"server_processes": 0}, "marker load")
    with pytest.raises(ConfigError, match=r"invalid journey_calls -1"):
        parse_scenario({"journey_calls": -1}, "marker load")


def test_run_setting_and_its_twins() -> None:
    run = resolve_run_settings(
        FakeConfig({"mcp_transport": "stdio", "mcp_server_cmd": "python s.py"}),
        env={"MCPPERF_SERVER_PROCESSES": "4"},
    )
    assert run.server_processes == 4
    assert run.source("server_processes") == "env MCPPERF_SERVER_PROCESSES"
    assert "server processes 4" in header_line(run)
    ini = resolve_run_settings(
        FakeConfig({"mcp_transport": "stdio"}, {"mcp_server_processes": "2"}), env={}
    )
    assert ini.server_processes == 2
    with pytest.raises(ConfigError, match=r"--mcp-server-processes \(from env.*stdio servers"):
        resolve_run_settings(FakeConfig(), env={"MCPPERF_SERVER_PROCESSES": "2"})
    with pytest.raises(ConfigError, match=r"invalid --mcp-server-processes 'x'"):
        resolve_run_settings(
            FakeConfig({"mcp_transport": "stdio"}, {}), {"MCPPERF_SERVER_PROCESSES": "x"}
        )


def test_build_spec_carries_the_copies_and_the_marker_wins() -> None:
    run = RunSettings(transport="stdio", server_cmd="python s.py", server_processes=2)
    spec = build_spec(url="stdio:x", run=run, marker=Scenario({}))
    assert spec.server_processes == 2
    spec = build_spec(url="stdio:x", run=run, marker=Scenario({"server_processes": 5}))
    assert spec.server_processes == 5
    with pytest.raises(ConfigError, match=r"server_processes=3 from marker load is for stdio"):
        build_spec(url="http://x/mcp", run=RunSettings(), marker=Scenario({"server_processes": 3}))


def test_option_names() -> None:
    assert option("pytest", "server_processes") == "--mcp-server-processes"
    assert option("cli", "server_processes") == "--server-processes"
    assert option("cli", "journey_calls") == "--journey-calls"


def _observe(stats: SerialStats, *, service: float, answers: float, n: int) -> None:
    """n requests of one kind, all sent at 0 behind a first one, answered `answers` apart."""
    stats.observe(b"k", 0.0, service, queued=False)
    stats.last_answer = service
    for i in range(1, n):
        now = service + i * answers
        stats.observe(b"k", 0.0, now, queued=True)
        stats.last_answer = now


def test_serial_estimate() -> None:
    serial = SerialStats()
    _observe(serial, service=0.02, answers=0.02, n=SERIAL_MIN_QUEUED + 5)
    r = serial.result()
    assert r["one_at_a_time"] is True
    assert r["parallelism"] == pytest.approx(1.0)
    concurrent = SerialStats()
    _observe(concurrent, service=0.02, answers=0.0025, n=SERIAL_MIN_QUEUED + 5)
    assert concurrent.result()["one_at_a_time"] is False
    assert concurrent.result()["parallelism"] == pytest.approx(8.0)
    few = SerialStats()
    _observe(few, service=0.02, answers=0.02, n=10)
    assert few.result() == {"queued_answers": 9, "parallelism": None, "one_at_a_time": None}


def test_serial_notes_name_the_option() -> None:
    assert "--server-processes N" in serial_note(1, "cli")
    assert "each of its 4 processes" in serial_note(4, "pytest")
    entry = {"target": {"stdio": {"one_at_a_time": True}}}
    note = summary_note([entry, {"target": {}}])
    assert note is not None
    assert note.startswith("1 run(s)")
    assert "--mcp-server-processes" in note
    assert summary_note([{"target": {"stdio": {"one_at_a_time": False}}}]) is None


def test_journey_section_merges_generators() -> None:
    a, b = journey.JourneyStats(), journey.JourneyStats()
    for st in (a, b):
        st.journeys += 2
        for step in journey.STEPS:
            st.ok(step, 0.002)
            st.ok(step, 0.004)
    b.failed_journeys += 1
    b.error("open", Outcome(RPC_ERROR, "-32600"))
    spec = LoadSpec(url="http://x/mcp", pattern="journey", journey_calls=2)
    out = journey.section([a.to_wire(), b.to_wire()], spec, window_s=2.0)
    assert set(out) == {
        "journeys",
        "failed_journeys",
        "journeys_per_s",
        "calls_per_journey",
        "steps",
    }
    assert (out["journeys"], out["failed_journeys"], out["journeys_per_s"]) == (4, 1, 2.0)
    assert out["calls_per_journey"] == 2
    assert list(out["steps"]) == ["open", "list", "call", "close"]
    opened = out["steps"]["open"]
    assert (opened["count"], opened["ok"], opened["failed"]) == (5, 4, 1)
    assert opened["errors"] == {"rpc_error": 1}
    assert opened["errors_by_code"] == {"rpc_error": {"-32600": 1}}
    assert opened["latency_ms"]["p50"] == pytest.approx(2.0, rel=0.01)
    assert opened["latency_ms"]["max"] == pytest.approx(4.0, rel=0.01)
