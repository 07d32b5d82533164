"""`mcpperf compare` / `calibrate`: options, the AB BA order, bad input (no servers)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from pytest_mcpperf.analysis import compare as cmp
from pytest_mcpperf.cli import build_parser, main
from pytest_mcpperf.cli.compare import alternate, rerunning_invalid


def test_options_parse() -> None:
    args = build_parser().parse_args(
        [
            "compare",
            "--baseline-cmd",
            "a {port}",
            "--candidate-url",
            "http://127.0.0.1:1/mcp",
            "--runs",
            "7",
            "--fail-on",
            "p99:10%,rps:5%",
            "throughput",
            "--requests-per-second",
            "20",
        ]
    )
    assert args.runs == 7
    assert args.fail_on == (cmp.Gate("p99", 10.0), cmp.Gate("rps", 5.0))
    assert args.delta == cmp.DEFAULT_DELTA_PERCENT
    assert args.requests_per_second == 20


def test_a_bad_gate_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--fail-on", "p98:10%", "throughput"])
    assert exc.value.code == 2
    assert "e.g. p99:10%,rps:5%" in capsys.readouterr().err


def test_each_side_needs_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--baseline-cmd", "x {port}", "throughput"]) == 2
    err = capsys.readouterr().err
    assert "exactly one of --candidate-cmd or --candidate-url" in err


def test_runs_alternate_ab_ba() -> None:
    seen: list[str] = []

    def one(target: Any, label: str) -> dict[str, Any]:
        seen.append(label)
        return {"p50": 1.0}

    sides = alternate(["A", "B"], 3, 1, one, ("a", "b"))  # type: ignore[list-item]
    assert seen == [
        "a warm-up",
        "b warm-up",
        "a run 1",
        "b run 1",
        "b run 2",
        "a run 2",
        "a run 3",
        "b run 3",
    ]
    assert [len(s) for s in sides] == [3, 3]


def test_calibration_reports_noise_and_the_smallest_detectable_change() -> None:
    rng = random.Random(1)
    runs = [{"p50": 10.0 * (1 + rng.gauss(0, 0.04))} for _ in range(10)]
    d = cmp.detectable_change(runs, 5)["p50"]
    assert 2 < d["noise_cv_percent"] < 7
    assert 3 < d["detectable_percent"] < 15
    assert cmp.detectable_change(runs, 3)["p50"]["detectable_percent"] is None


def test_an_invalid_run_is_run_again_while_the_budget_lasts_and_listed() -> None:
    verdicts = iter(["valid", "client_bound", "valid", "client_bound", "client_bound"])

    def one(target: Any, label: str) -> dict[str, Any]:
        v = next(verdicts)
        return {"p50": 1.0, "accuracy": v, "accuracy_reason": "lag" if v != "valid" else ""}

    discarded: list[dict[str, Any]] = []
    run = rerunning_invalid(one, 2, discarded)
    target: Any = "A"
    assert run(target, "a run 1")["accuracy"] == "valid"
    assert run(target, "a run 2")["accuracy"] == "valid"  # rerun once
    assert run(target, "a run 3")["accuracy"] == "client_bound"  # the budget is spent
    assert discarded == [
        {"run": "a run 2", "self_check": "client_bound", "reason": "lag"},
        {"run": "a run 3", "self_check": "client_bound", "reason": "lag"},
    ]
