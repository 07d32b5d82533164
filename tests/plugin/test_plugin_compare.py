"""Repeats, baselines and comparisons through pytester, with a fake engine whose p50 is
`FAKE_P50` ms (times 1 + 1 % per run, so runs differ a little) and no real server."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import FakeProject

ENGINE = textwrap.dedent("""
    import itertools, os, sys, types
    from pytest_mcpperf.result import LoadResult

    COUNT = itertools.count()

    def run(spec, *, progress=None, monitor=None):
        p50 = float(os.environ["FAKE_P50"]) * (1 + 0.01 * (next(COUNT) % 5))
        return LoadResult({
            "schema": "mcpperf/1", "scenario": spec.scenario, "pattern": spec.pattern,
            "started_at": str(next(COUNT)), "duration_s": spec.duration_s,
            "requests": {"ok": 100, "failed": 0},
            "throughput_rps": 100.0,
            "latency_ms": {"p50": p50, "p90": 2 * p50, "p99": 3 * p50},
            "accuracy": {"verdict": "valid"},
            "histograms": {"latency": "HIST"},
        })

    async def arun(spec, *, progress=None, monitor=None):
        return run(spec)

    fake = types.ModuleType("pytest_mcpperf.engine.runner")
    fake.run, fake.arun = run, arun
    sys.modules["pytest_mcpperf.engine.runner"] = fake
""")

SCENARIO = """
import pytest

@pytest.mark.load(rate=100, duration=1)
def test_calls(perf_client):
    perf_client.run()
"""


def test_repeat_save_compare_and_markdown(
    fake_project: FakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    tester = fake_project.pytester
    tester.makeconftest(ENGINE)
    tester.makepyfile(test_scenario=SCENARIO)
    repeat = ("--perf-repeat", "5", "--perf-baseline-dir", "b")
    monkeypatch.setenv("FAKE_P50", "1.0")
    saved = fake_project.run(*repeat, "--perf-save=main", "--perf-report=json:r.json")
    saved.assert_outcomes(passed=1)
    saved.stdout.fnmatch_lines(["mcpperf: baseline saved to *main.json"])
    (entry,) = json.loads((tester.path / "r.json").read_text())["results"]
    assert [r["histograms"]["latency"] for r in entry["repeats"]] == ["HIST"] * 5
    assert entry["spread"]["p50"]["min"] == 1.0
    assert entry["spread"]["p50"]["max"] == 1.04

    summary = tester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("FAKE_P50", "1.5")
    gate = ("--perf-compare=main", "--perf-compare-fail=p50:10%")
    slower = fake_project.run(*repeat, *gate)
    slower.assert_outcomes(failed=1)
    slower.stdout.fnmatch_lines(
        [
            "*mcpperf comparison of test_scenario.py::test_calls against baseline 'main'*",
            "*p50 slower by 50.0 % (interval *), beyond the 10 % allowed*",
            "*mcpperf comparison with the baseline*",
            "test_scenario.py::test_calls: slower (FAILED: beyond the allowed limit): *",
        ]
    )
    table = summary.read_text()
    assert table.startswith("### test_scenario.py::test_calls: **slower** (gate failed)")
    assert "| p50 | slower | +50.0 % |" in table

    monkeypatch.setenv("FAKE_P50", "1.0")
    same = fake_project.run(*repeat, *gate)
    same.assert_outcomes(passed=1)
    same.stdout.fnmatch_lines(["test_scenario.py::test_calls: unchanged: *"])


def test_a_missing_baseline_warns(
    fake_project: FakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_project.pytester.makeconftest(ENGINE)
    fake_project.pytester.makepyfile(test_scenario=SCENARIO)
    monkeypatch.setenv("FAKE_P50", "1.0")
    result = fake_project.run("--perf-compare=nope", "--perf-baseline-dir", "b")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*no baseline 'nope' to compare *--perf-save=nope*"])


@pytest.mark.parametrize(
    ("option", "words"),
    [
        ("--perf-repeat=0", "invalid --perf-repeat '0'"),
        ("--perf-save=../x", "invalid --perf-save '../x'"),
        ("--perf-compare-fail=p98:1%", "invalid gate 'p98:1%' from --perf-compare-fail"),
    ],
)
def test_bad_values_are_usage_errors(fake_project: FakeProject, option: str, words: str) -> None:
    fake_project.pytester.makepyfile(test_scenario=SCENARIO)
    result = fake_project.run(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert words in result.stderr.str()
    assert not Path(fake_project.pytester.path / "b").exists()
