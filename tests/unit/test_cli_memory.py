"""`mcpperf memory`: its options, plans and text, over the analysis procedure."""

from __future__ import annotations

from pytest_mcpperf.analysis.memory import MemorySample, leak_plan
from pytest_mcpperf.cli import build_parser
from pytest_mcpperf.cli.memory import make_plan, snapshot_block
from pytest_mcpperf.vocabulary import MIB


def test_memory_command_defaults_are_the_seeds() -> None:
    p = build_parser()
    assert p.parse_args(["memory", "baseline"]).request_count == 100
    assert p.parse_args(["memory", "leak-detection"]).iterations == 10000
    g = p.parse_args(["memory", "growth-analysis"])
    assert g.measurement_interval_seconds == 60.0
    assert g.duration_seconds == 60.0
    assert p.parse_args(["--json", "memory", "baseline"]).json is True
    assert p.parse_args(["memory", "baseline", "--concurrency", "3"]).concurrency == 3


def test_each_mode_has_its_plan() -> None:
    p = build_parser()
    assert make_plan(p.parse_args(["memory", "baseline"])).chunks == [20] * 5
    leak = make_plan(p.parse_args(["memory", "leak-detection", "--iterations", "1000"]))
    assert leak == leak_plan(1000)
    growth = make_plan(
        p.parse_args(
            [
                "memory",
                "growth-analysis",
                "--duration-seconds",
                "120",
                "--measurement-interval-seconds",
                "30",
                "--rate",
                "100",
            ]
        )
    )
    assert growth.chunks == [1000] * 12


def test_snapshot_block() -> None:
    samples = [MemorySample(0, 40 * MIB, 0.0), MemorySample(1000, 42 * MIB, 2.0)]
    text = snapshot_block("Final", samples)
    assert text.startswith("=== Memory Snapshot: Final ===")
    assert "Requests completed: 1,000" in text
    assert "Change since initial: +2.00 MB" in text
