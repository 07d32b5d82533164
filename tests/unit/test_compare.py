"""The comparison's statistics on synthetic per-run data with known shifts and noise.

Acceptance: with 5 runs a side and 4 % run-to-run noise, A/A comparisons say `slower`
or `faster` in under 5 % of trials; the power at a 20 % shift is measured (and stated
in the README). The markdown table is checked here too.
"""

from __future__ import annotations

import math
import random
from math import comb
from pathlib import Path

import pytest

from pytest_mcpperf import baseline
from pytest_mcpperf.analysis import compare as cmp
from pytest_mcpperf.errors import ConfigError

NOISE = 0.04  # 4 % run-to-run noise, as in the simulation
TRIALS = 2000


def runs(rng: random.Random, n: int, shift: float, noise: float = NOISE) -> list[cmp.Summary]:
    """n runs of a server whose latency is (1 + shift) times the baseline's, with
    independent log-normal noise per run and per metric. The rate is an open loop's: the
    offered rate whatever the latency, with a quarter of the noise."""

    def jitter(scale: float = 1.0) -> float:
        return math.exp(rng.gauss(0.0, noise * scale))

    return [
        {
            "rps": 100.0 * jitter(0.25),
            "p50": 10.0 * (1.0 + shift) * jitter(),
            "p90": 18.0 * (1.0 + shift) * jitter(),
            "p99": 30.0 * (1.0 + shift) * jitter(1.5),
            "accuracy": "valid",
        }
        for _ in range(n)
    ]


def verdict_rates(
    shift: float, n: int = 5, trials: int = TRIALS, seed: int = 12
) -> dict[str, float]:
    rng = random.Random(seed)
    counts = dict.fromkeys(cmp.VERDICTS, 0)
    for _ in range(trials):
        counts[cmp.compare(runs(rng, n, 0.0), runs(rng, n, shift)).verdict] += 1
    return {k: v / trials for k, v in counts.items()}


def test_u_distribution_counts_every_ordering() -> None:
    for n, m in ((1, 1), (3, 4), (5, 5), (8, 6)):
        counts = cmp._u_counts(n, m)
        assert sum(counts) == comb(n + m, n)
        assert counts == counts[::-1]  # symmetric about nm/2


def test_exact_interval_ranks_for_small_samples() -> None:
    # 5 v 5 at 95 %: P(U <= 2) = 4/252, so k = 3 and the coverage is 1 - 8/252.
    k, achieved = cmp.interval_rank(5, 5, 0.05)  # type: ignore[misc]
    assert k == 3
    assert achieved == pytest.approx(1 - 8 / 252)
    # 4 v 4: only the widest interval, at 1 - 2/70; 3 v 3 cannot reach 95 % at all.
    assert cmp.interval_rank(4, 4, 0.05) == (1, 1 - 2 / 70)
    assert cmp.interval_rank(3, 3, 0.05) is None
    assert cmp.min_runs(0.05) == 4
    assert cmp.min_runs(0.05 / 3) == 5


def test_aa_false_positive_rate_is_under_5_percent() -> None:
    rates = verdict_rates(0.0)
    false_positive = rates["slower"] + rates["faster"]
    assert false_positive < 0.05, rates


@pytest.mark.parametrize(("shift", "least_power"), [(0.20, 0.95), (0.50, 0.99)])
def test_power_at_known_shifts_with_5_runs_a_side(shift: float, least_power: float) -> None:
    rates = verdict_rates(shift, trials=500)
    assert rates["slower"] >= least_power, rates
    assert rates["faster"] == 0.0


def test_a_5_percent_shift_is_sometimes_seen_and_never_called_faster() -> None:
    rates = verdict_rates(0.05, trials=500)
    assert 0.05 < rates["slower"] < 0.95, rates
    assert rates["faster"] == 0.0


def test_faster_and_unchanged() -> None:
    rng = random.Random(1)
    assert cmp.compare(runs(rng, 6, 0.0), runs(rng, 6, -0.3)).verdict == "faster"
    quiet = cmp.compare(runs(rng, 8, 0.0, noise=0.003), runs(rng, 8, 0.0, noise=0.003))
    assert quiet.verdict == "unchanged"
    assert all(m.verdict == "unchanged" for m in quiet.metrics.values())


def test_rps_lower_is_slower() -> None:
    base = [{"rps": 100.0 + i, "p50": 1.0, "p99": 2.0} for i in range(5)]
    cand = [{"rps": 70.0 + i, "p50": 1.0, "p99": 2.0} for i in range(5)]
    result = cmp.compare(base, cand, cmp.parse_gates("rps:5%"))
    rps = result.metrics["rps"]
    assert rps.verdict == "slower"
    assert rps.change_percent < -25
    assert rps.beyond_limit
    assert result.failed
    assert result.verdict == "slower"


def test_an_invalid_run_makes_it_inconclusive_never_slower() -> None:
    rng = random.Random(2)
    cand = runs(rng, 5, 0.5)
    cand[2]["accuracy"] = "client_bound"
    result = cmp.compare(runs(rng, 5, 0.0), cand)
    assert result.verdict == "inconclusive"
    assert not result.failed
    assert "candidate run 3: self-check client_bound" in result.reason


def test_inconclusive_says_how_many_runs_would_settle_it() -> None:
    rng = random.Random(3)
    result = cmp.compare(runs(rng, 5, 0.0, noise=0.3), runs(rng, 5, 0.1, noise=0.3))
    p50 = result.metrics["p50"]
    assert p50.verdict == "inconclusive"
    assert p50.runs_needed is not None
    assert p50.runs_needed > 5
    assert f"about {p50.runs_needed} runs" in cmp.describe(p50)


def test_a_regression_within_the_limit_is_slower_but_does_not_fail() -> None:
    rng = random.Random(4)
    result = cmp.compare(runs(rng, 6, 0.0), runs(rng, 6, 0.3), cmp.parse_gates("p50:60%"))
    assert result.verdict == "slower"
    assert not result.failed


def with_ok(summaries: list[cmp.Summary], ok: int) -> list[cmp.Summary]:
    return [{**s, "ok": ok} for s in summaries]


def test_a_percentile_of_too_few_responses_is_not_compared() -> None:
    """p99 of 20 responses is their slowest one: it is not compared, and a gate on it
    makes the verdict inconclusive with the reason, never `slower` on a maximum."""
    rng = random.Random(7)
    base = with_ok(runs(rng, 5, 0.0), 20)
    cand = with_ok(runs(rng, 5, 0.0), 20)
    for s in cand:
        s["p99"] *= 1.5  # every candidate maximum is slower
    result = cmp.compare(base, cand)
    assert "p99" not in result.metrics
    assert {"p50", "p90", "rps"} <= set(result.metrics)
    assert result.verdict == "inconclusive"
    need = "p99 not compared: it needs at least 100 successful responses a run"
    assert result.reason.startswith(need)
    assert "runs had 20-20" in result.reason
    assert result.to_dict()["notes"] == list(result.notes) == [result.reason]
    assert any(line.strip() == result.reason for line in cmp.text_lines(result))
    assert result.reason in cmp.markdown(result)
    # a gated figure that is confidently slower still decides
    slower = with_ok(runs(rng, 5, 0.5), 20)
    assert cmp.compare(base, slower).verdict == "slower"
    # with 100 responses a run, p99 is a percentile again and is compared
    enough = cmp.compare(with_ok(base, 100), with_ok(cand, 100))
    assert enough.metrics["p99"].verdict == "slower"
    assert enough.verdict == "slower"
    assert not enough.notes


def test_a_summary_counts_its_successful_responses() -> None:
    report = {"requests": {"ok": 20, "failed": 1}, "latency_ms": {"p99": 3.0}}
    assert cmp.run_summary(report)["ok"] == 20


def test_four_runs_a_side_with_three_gates_cannot_reach_95_percent() -> None:
    rng = random.Random(5)
    result = cmp.compare(runs(rng, 4, 0.0), runs(rng, 4, 0.5))
    assert result.verdict == "inconclusive"
    assert result.metrics["p50"].ci_percent is None
    one_gate = cmp.compare(runs(rng, 4, 0.0), runs(rng, 4, 0.5), cmp.parse_gates("p50:10%"))
    assert one_gate.verdict == "slower"


@pytest.mark.parametrize("text", ["p98:10%", "p99", "p99:-1%", "p99:x", ""])
def test_bad_gates_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ConfigError, match=r"e\.g\. p99:10%,rps:5%"):
        cmp.parse_gates(text)


def test_json_shape() -> None:
    rng = random.Random(6)
    data = cmp.compare(runs(rng, 5, 0.0), runs(rng, 5, 0.4)).to_dict()
    assert data["verdict"] == "slower"
    p99 = data["metrics"]["p99"]
    assert set(p99) >= {"verdict", "change_percent", "ci_percent", "baseline", "candidate"}
    assert len(p99["baseline"]) == 5
    assert len(p99["ci_percent"]) == 2


def test_markdown_table() -> None:
    rng = random.Random(7)
    result = cmp.compare(runs(rng, 5, 0.0), runs(rng, 5, 0.4))
    text = cmp.markdown(result, "PR vs main")
    lines = text.splitlines()
    assert lines[0] == "### PR vs main: **slower** (gate failed)"
    header = lines.index(
        "| metric | verdict | change | interval | baseline median | candidate median | gate |"
    )
    assert lines[header + 1].startswith("| --- |")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[header + 2 :] if line}
    assert "| slower | +" in rows["p50"]
    assert "10 % **exceeded** |" in rows["p50"]
    assert rows["p90"].endswith("| - |")  # not gated
    assert "5 baseline and 5 candidate runs" in text


def test_markdown_is_appended(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_text("earlier step\n")
    baseline.append_markdown("### table", path)
    assert path.read_text() == "earlier step\n### table\n"


def test_repeats_keep_every_summary_and_the_spread() -> None:
    reports = [
        {
            "started_at": str(i),
            "throughput_rps": 50.0,
            "requests": {"ok": 10, "failed": 0},
            "latency_ms": {"p50": p50, "p90": p50 * 2, "p99": p50 * 3},
            "accuracy": {"verdict": "valid"},
            "histograms": {"latency": f"h{i}"},
        }
        for i, p50 in enumerate((3.0, 1.0, 2.0))
    ]
    out = cmp.with_repeats(reports)
    assert out["started_at"] == "2"  # the median repeat by p50
    assert [r["histograms"]["latency"] for r in out["repeats"]] == ["h0", "h1", "h2"]
    assert out["spread"]["p50"] == {"min": 1.0, "median": 2.0, "max": 3.0, "cv_percent": 50.0}
    assert [s["p50"] for s in cmp.summaries_of(out)] == [3.0, 1.0, 2.0]
    assert cmp.with_repeats(reports[:1]) == reports[0]


def test_baselines_are_keyed_by_fingerprint(tmp_path: Path) -> None:
    here = baseline.fingerprint()
    other = {**here, "cpu_model": "Another CPU"}
    baseline.save(tmp_path, "main", {"t": [{"p50": 1.0}]}, fp=other)
    found = baseline.load(tmp_path, "main", fp=here)
    assert found is not None
    assert not found.same_machine
    assert "cpu_model 'Another CPU' there" in found.mismatch(here)
    baseline.save(tmp_path, "main", {"t": [{"p50": 2.0}]}, fp=here)
    mine = baseline.load(tmp_path, "main", fp=here)
    assert mine is not None
    assert mine.same_machine
    assert mine.scenarios["t"] == [{"p50": 2.0}]
    assert baseline.load(tmp_path, "other", fp=here) is None
    with pytest.raises(ConfigError, match=r"e\.g\. main"):
        baseline.check_name("../x", "--perf-save")
