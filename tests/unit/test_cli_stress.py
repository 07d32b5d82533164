"""`mcpperf stress`: its options and its text, over the analysis procedure."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pytest_mcpperf.analysis.stress import StressLoad, analyze_phases
from pytest_mcpperf.cli import build_parser
from pytest_mcpperf.cli.stress import probe_policy, results_block, run_phases, stress_load
from pytest_mcpperf.errors import TargetError
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec


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


class ScriptedEngine:
    """Probes answer with the scripted p99s in turn; the stress run with fixed counts."""

    def __init__(self, probe_p99: list[float]) -> None:
        self.probe_p99 = list(probe_p99)
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def run_many(self, specs: Sequence[LoadSpec]) -> list[LoadResult]:
        self.now += specs[0].duration_s
        if specs[0].scenario == "stress probe":
            return [
                LoadResult(
                    {
                        "requests": {"ok": 20, "failed": 0},
                        "latency_ms": {"p99": self.probe_p99.pop(0)},
                    }
                )
            ]
        return [
            LoadResult(
                {
                    "requests": {
                        "scheduled": 1000,
                        "sent": 1000,
                        "completed": 1000,
                        "ok": 960,
                        "failed": 40,
                        "errors": {"tool_error": 40},
                    }
                }
            )
        ]


class FakeServer:
    url = "http://127.0.0.1:1/mcp"
    pid: int | None = 1

    def __init__(self) -> None:
        self.dead = False

    def alive(self) -> bool:
        return not self.dead

    def rss(self) -> int:
        return 0


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

    def run_many(specs: Sequence[LoadSpec]) -> list[LoadResult]:
        if specs[0].scenario != "stress probe":
            server.dead = True
            raise TargetError("cannot start an MCP session: connection refused")
        return engine.run_many(specs)

    ph = run_phases(args, server, run_many, engine.clock)
    text = results_block(args, ph, analyze_phases(ph, args.hold_intervals))
    assert "Server alive: NO - the server died (cannot start an MCP session" in text
