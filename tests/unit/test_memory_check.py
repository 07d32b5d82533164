"""The memory criterion on ordinary load runs: the `memory_check` keyword (marker, run(),
`mcpperf client --memory-check`: tests/unit/test_cli_memory_check.py), its check over the
run's RSS readings, and the summary row's growth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pytest_mcpperf import settings as cfg
from pytest_mcpperf.analysis.criteria import check_memory, failure_message
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.fixtures import PerfClient, Plan
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.summary import render
from pytest_mcpperf.vocabulary import KIB
from tests.memfakes import RATE, flat, leaking, plateau, run_report

# ---------------------------------------------------------------- the keyword


@pytest.mark.parametrize(
    ("value", "limit"),
    [(True, 10.0), ("true", 10.0), (15, 15.0), ("2.5", 2.5), (False, 0.0), (None, 0.0)],
)
def test_memory_check_values(value: object, limit: float) -> None:
    assert cfg.parse_memory_check(value, "memory_check", "marker load") == limit


@pytest.mark.parametrize("value", [0, -5, "abc", 5000, [10], float("nan")])
def test_bad_memory_check_values_name_the_keyword_and_the_choices(value: object) -> None:
    with pytest.raises(ConfigError) as err:
        cfg.parse_scenario({"memory_check": value}, "marker load")
    text = str(err.value)
    assert text.startswith(f"invalid memory_check {value!r} from marker load: expected True")
    assert "no leak, growth < 10%" in text


def test_the_marker_keyword_and_run_overrides() -> None:
    marker = cfg.parse_scenario({"rate": 10, "memory_check": True}, "marker load")
    assert marker.memory_check == 10.0
    assert "rate" in marker.fields
    assert "memory_check" not in marker.fields  # not a LoadSpec field
    assert cfg.effective_memory_check(marker, None)[0] == 10.0
    off = cfg.parse_scenario({"memory_check": False}, "perf_client.run()")
    assert cfg.effective_memory_check(marker, off)[0] == 0.0
    other = cfg.parse_scenario({"rate": 20}, "perf_client.run()")
    assert cfg.effective_memory_check(marker, other) == (10.0, "marker load memory_check=10")
    assert cfg.effective_memory_check(cfg.Scenario({}), None) == (0.0, "default")


def test_the_run_level_option_and_its_twins() -> None:
    from tests.fakeconfig import FakeConfig

    run = cfg.resolve_run_settings(FakeConfig({"perf_memory_check": "true"}), env={})
    none = cfg.Scenario({})
    assert cfg.effective_memory_check(none, None, run) == (10.0, "--perf-memory-check 10")
    run = cfg.resolve_run_settings(FakeConfig(), env={"MCPPERF_MEMORY_CHECK": "25"})
    assert cfg.effective_memory_check(none, None, run) == (25.0, "env MCPPERF_MEMORY_CHECK 25")
    run = cfg.resolve_run_settings(FakeConfig(ini={"perf_memory_check": "5"}), env={})
    assert cfg.effective_memory_check(none, None, run)[0] == 5.0
    off = cfg.parse_scenario({"memory_check": False}, "marker load")
    assert cfg.effective_memory_check(off, None, run)[0] == 0.0  # the marker wins
    with pytest.raises(ConfigError, match="MCPPERF_MEMORY_CHECK"):
        cfg.resolve_run_settings(FakeConfig(), env={"MCPPERF_MEMORY_CHECK": "lots"})
    assert "memory_check=False" in cfg.MARKER_SIGNATURE


# ---------------------------------------------------------------- the criterion


def test_a_server_that_keeps_4_kib_per_call_fails_as_a_leak() -> None:
    outcome, memory = check_memory(run_report(leaking), 10.0, "memory_check=10")
    assert memory is not None
    assert memory["verdict"] == "leak"
    assert memory["trend"] == "rising"
    assert memory["second_half"]["bytes_per_request"] == pytest.approx(4 * KIB, rel=0.01)
    assert not outcome.passed
    assert outcome.to_dict()["name"] == "memory"
    assert outcome.value == pytest.approx(memory["growth_percent"], abs=0.001)
    assert outcome.message.startswith(
        "the server LEAKS memory: RSS kept rising through the second half"
    )
    assert "grew 29.3% (+11.7 MiB fitted over 3000 requests), the limit is < 10%" in (
        outcome.message
    )
    assert "(criterion: no leak, growth < 10%, from memory_check=10)" in outcome.message
    assert "To change it: find what the server keeps per call" in outcome.message
    assert "(check_memory(result, max_growth_percent))" in outcome.message
    assert failure_message([outcome]).startswith("memory check failed: the server LEAKS")


def test_a_filled_cache_is_growth_with_a_plateau_not_a_leak() -> None:
    outcome, memory = check_memory(run_report(plateau), 10.0, "memory_check=10")
    assert memory is not None
    assert memory["verdict"] != "leak"
    assert memory["trend"] == "plateau"
    assert not outcome.passed  # the seed's 10 % growth is passed all the same
    assert "LEAKS" not in outcome.message
    assert "growth with a plateau, not a leak" in outcome.message
    allowed, _ = check_memory(run_report(plateau), 500.0, "memory_check=500")
    assert allowed.passed


def test_a_flat_server_passes() -> None:
    outcome, memory = check_memory(run_report(flat), 10.0, "memory_check=10")
    assert outcome.passed, outcome.message
    assert memory is not None
    assert memory["verdict"] == "stable"
    assert abs(outcome.value or 0.0) < 1.0


def test_warm_up_readings_are_left_out() -> None:
    # the cache fills during a 2 s warm-up: the measured window is flat
    report = run_report(plateau, seconds=8)
    report["config"]["warmup_s"] = 2.0
    report["timeseries"] = [{"t": t, "ok": RATE, "failed": 0} for t in range(6)]
    outcome, memory = check_memory(report, 10.0, "memory_check=10")
    assert memory is not None
    assert outcome.passed, outcome.message
    assert memory["samples"] == 25  # t = 2.0 .. 8.0


def test_a_run_without_readings_cannot_pass() -> None:
    outcome, memory = check_memory({"requests": {"ok": 10}}, 10.0, "memory_check=True")
    assert memory is None
    assert not outcome.passed
    assert outcome.value is None
    assert "server memory was not measured in this run" in outcome.message


def test_a_contended_run_says_so_in_the_memory_failure() -> None:
    report = run_report(leaking)
    report["accuracy"] = {"verdict": "contended", "reason": "host CPUs 100% busy"}
    outcome, _ = check_memory(report, 10.0, "memory_check=10")
    assert "CONTENDED" in outcome.message


# ---------------------------------------------------------------- front ends


class FakeEngine:
    def __init__(self, report: Mapping[str, Any]) -> None:
        self.report = report

    def run(self, spec: LoadSpec, *, progress: Any = None) -> LoadResult:
        return LoadResult(self.report)

    async def arun(self, spec: LoadSpec, *, progress: Any = None) -> LoadResult:
        return LoadResult(self.report)


def perf_client(report: Mapping[str, Any], limit: float) -> tuple[PerfClient, list[Any]]:
    recorded: list[Any] = []
    client = PerfClient(
        plan=lambda _o: Plan(LoadSpec(url="http://h/mcp", rate=RATE), (), limit),
        engine=lambda: FakeEngine(report),
        record=recorded.append,
        check_server=lambda: None,
    )
    return client, recorded


def test_perf_client_applies_the_memory_check_and_records_it() -> None:
    client, recorded = perf_client(run_report(leaking), 10.0)
    with pytest.raises(
        AssertionError, match=r"^memory check failed: the server LEAKS memory"
    ) as err:
        client.run()
    # the fix in the pytest front end's words
    assert "warm-up (the load marker's warmup=)" in str(err.value)
    assert "more growth (the load marker's memory_check=PERCENT)" in str(err.value)
    entry = recorded[0]
    assert entry["memory"]["verdict"] == "leak"
    assert entry["criteria"][-1]["name"] == "memory"
    assert entry["criteria"][-1]["passed"] is False
    row = render([{**entry, "nodeid": "t.py::leaky", "outcome": "failed"}])[1]
    assert "(+29.3%)" in row
    assert row.endswith("failed   valid, memory leak")


def test_perf_client_without_the_check_adds_no_memory() -> None:
    client, recorded = perf_client(run_report(leaking), 0.0)
    client.run()
    assert "memory" not in recorded[0]
    assert recorded[0].get("criteria", []) == []


def test_the_summary_row_shows_the_monitors_growth_without_a_check() -> None:
    entry = {
        "nodeid": "t.py::a",
        "outcome": "passed",
        "requests": {"ok": 10, "failed": 0},
        "server": {"rss_mb": {"peak": 43.21}, "growth_percent": 4.56},
        "accuracy": {"verdict": "valid"},
    }
    assert "43.2 (+4.6%)" in render([entry])[1]
    assert render([entry])[1].endswith("valid")
    no_growth = {**entry, "server": {"rss_mb": {"peak": 43.21}}}
    assert render([no_growth])[1].split()[-3] == "43.2"
