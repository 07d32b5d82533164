"""`mcpperf stress`: its options and its text, over the analysis procedure."""

from __future__ import annotations

import pytest

from pytest_mcpperf.analysis.stress import StressLoad, analyze_phases
from pytest_mcpperf.cli import build_parser
from pytest_mcpperf.cli.stress import probe_policy, results_block, run_phases, stress_load
from tests.stressfakes import FakeServer, ScriptedEngine, killing_stress


def test_stress_command_defaults_are_the_seeds() -> None:
    p = build_parser()
    m = p.parse_args(["stress", "memory"])
    assert (m.max_concurrent, m.mb_per_request) == (100, 50)
    assert p.parse_args(["stress", "cpu"]).computation_size == 1000
    f = p.parse_args(["stress", "flood"])
    assert (f.connections_per_second, f.max_connections) == (1000, 5000)
    assert p.parse_args(["stress", "chaos"]).error_rate_percent == 50
    with pytest.raises(SystemExit):
        p.parse_args(["stress", "chaos", "--error-rate-percent", "100"])


def test_options_become_the_stress_load_and_probe_policy() -> None:
    args = build_parser().parse_args(
        [
            "stress",
            "chaos",
            "--max-concurrent",
            "10",
            "--error-rate-percent",
            "30",
            "--duration-seconds",
            "5",
            "--hold-intervals",
            "2",
            "--probe-rate",
            "10",
        ]
    )
    assert stress_load(args) == StressLoad(
        "chaos", duration_s=5.0, max_concurrent=10, error_rate_percent=30, front_end="cli"
    )
    policy = probe_policy(args)
    assert (policy.hold_intervals, policy.probe_rate, policy.probe_tool) == (
        2,
        10.0,
        "fast_compute",
    )
    flood = stress_load(build_parser().parse_args(["stress", "flood"]))
    assert (flood.connections_per_second, flood.max_connections) == (1000, 5000)


def test_results_block_of_a_recovered_server() -> None:
    args = build_parser().parse_args(["stress", "memory", "--duration-seconds", "5"])
    engine = ScriptedEngine([2.0, 3.0, 4.0, 400.0, 90.0, 12.0, 5.0, 4.0, 3.0, 2.0])
    ph = run_phases(args, FakeServer(), engine.run_many, engine.clock)
    text = results_block(args, ph, analyze_phases(ph, args.hold_intervals))
    assert "=== Comprehensive Stress Test Results ===" in text
    assert "Overall Reliability Score: 96.00%" in text
    assert "GOOD - Server handled stress adequately" in text
    assert "Recovery time: 3.00 s" in text


def test_results_block_of_a_server_that_never_recovers() -> None:
    args = build_parser().parse_args(
        ["stress", "cpu", "--duration-seconds", "2", "--recovery-timeout-seconds", "10"]
    )
    engine = ScriptedEngine([2.0, 2.0, 2.0] + [500.0] * 100)
    ph = run_phases(args, FakeServer(), engine.run_many, engine.clock)
    text = results_block(args, ph, analyze_phases(ph, args.hold_intervals))
    assert "not recovered within 10 s" in text
    assert "Result: FAIL" in text


def test_results_block_of_a_server_that_died() -> None:
    args = build_parser().parse_args(["stress", "memory", "--duration-seconds", "1"])
    engine = ScriptedEngine([2.0, 2.0, 2.0])
    server = FakeServer()
    ph = run_phases(args, server, killing_stress(engine, server), engine.clock)
    text = results_block(args, ph, analyze_phases(ph, args.hold_intervals))
    assert "Server alive: NO - the server died (cannot start an MCP session" in text
