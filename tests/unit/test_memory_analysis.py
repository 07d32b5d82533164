"""Exact tests of the server memory procedure and analysis (pytest_mcpperf.analysis.memory)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from pytest_mcpperf.analysis.memory import (
    LEAK_BYTES_PER_REQUEST,
    MemorySample,
    analyze,
    baseline_plan,
    completions,
    efficiency_requests_per_mb,
    growth_plan,
    leak_plan,
    least_squares_slope,
    measure,
    per_request_rating,
    samples_from_report,
    split_evenly,
    stability_grade,
    stability_percent,
    verdict_for,
)
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.vocabulary import KIB, MIB
from tests.memfakes import ChunkServer


def series(base: int, per_request: int, counts: list[int], dt: float = 1.0) -> list[MemorySample]:
    return [MemorySample(n, base + per_request * n, i * dt) for i, n in enumerate(counts)]


def test_slope_of_an_exact_line() -> None:
    assert least_squares_slope([0, 1, 2, 3], [5, 7, 9, 11]) == 2.0


def test_slope_of_noisy_points_is_the_least_squares_one() -> None:
    # x mean 1.5, y mean 1.75; sxy = 2.625 - 0.125 - 0.375 + 3.375 = 5.5, sxx = 5
    assert least_squares_slope([0, 1, 2, 3], [0, 2, 1, 4]) == pytest.approx(1.1)


def test_slope_is_undefined_for_fewer_than_two_points_or_one_x() -> None:
    assert least_squares_slope([], []) is None
    assert least_squares_slope([3], [1]) is None
    assert least_squares_slope([2, 2, 2], [1, 5, 9]) is None


def test_slope_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="one y for each x"):
        least_squares_slope([1, 2], [1])


def test_leak_of_50_kib_per_request_is_a_leak() -> None:
    counts = [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    a = analyze(series(40 * MIB, 50 * KIB, counts, dt=0.5))
    assert a.verdict == "leak"
    assert a.bytes_per_request == pytest.approx(50 * KIB)
    assert a.slope_bytes_per_s == pytest.approx(50 * KIB * 100 / 0.5)
    assert a.growth_bytes == pytest.approx(50 * KIB * 1000)
    # 50 000 KiB over 40 MiB = 48828.125 / 40960 * 100
    assert a.growth_percent == pytest.approx(100 * 50 * 1000 / (40 * 1024))
    assert a.requests == 1000
    assert a.samples == 11
    assert not a.passed


def test_flat_series_is_stable_and_passes() -> None:
    a = analyze(series(40 * MIB, 0, [0, 500, 1000, 1500, 2000]))
    assert a.verdict == "stable"
    assert a.bytes_per_request == 0.0
    assert a.growth_percent == 0.0
    assert a.stability_percent == 100.0
    assert a.stability_grade == "EXCELLENT"
    assert a.passed


def test_warmup_growth_is_excluded_from_the_fit() -> None:
    # +20 MiB during the first 200 requests (imports, caches), flat afterwards
    samples = [
        MemorySample(0, 30 * MIB, 0.0),
        MemorySample(100, 40 * MIB, 1.0),
        MemorySample(200, 50 * MIB, 2.0),
    ]
    samples += [MemorySample(200 + 200 * i, 50 * MIB, 2.0 + i) for i in range(1, 6)]
    # without warm-up: a steep rise that flattens, a plateau (growth, not a leak)
    whole = analyze(samples)
    assert (whole.verdict, whole.trend) == ("moderate", "plateau")
    a = analyze(samples, warmup_requests=200)
    assert a.verdict == "stable"
    assert a.bytes_per_request == 0.0
    assert a.samples == 6


def test_an_allocator_step_below_the_noise_floor_is_not_a_leak() -> None:
    # the fitted slope is 2 MiB / 100 requests (20.48 KiB/request), but 2 MiB in all
    samples = [
        MemorySample(0, 40 * MIB, 0.0),
        MemorySample(50, 40 * MIB, 1.0),
        MemorySample(100, 42 * MIB, 2.0),
    ]
    a = analyze(samples)
    assert a.bytes_per_request == pytest.approx(2 * MIB / 100)
    assert a.verdict == "stable"


def test_small_steady_retention_above_the_floor_is_moderate() -> None:
    a = analyze(series(100 * MIB, 2 * KIB, [0, 1000, 2000, 3000, 4000]))
    assert a.bytes_per_request == pytest.approx(2 * KIB)
    assert a.growth_bytes == pytest.approx(8000 * KIB)  # 7.8 MiB > 4 MiB floor
    assert a.growth_percent == pytest.approx(100 * 8000 / (100 * 1024))  # 7.8125 %
    assert a.verdict == "moderate"
    assert a.passed  # moderate growth under 10 % still meets the seed's criteria


def test_growth_of_ten_percent_is_at_least_moderate_and_fails() -> None:
    a = analyze(series(20 * MIB, 512, [0, 2048, 4096]))  # +2 MiB on 20 MiB = 10 %
    assert a.growth_percent == pytest.approx(10.0)
    assert a.verdict == "moderate"
    assert not a.passed


@pytest.mark.parametrize(
    ("bpr", "growth", "pct", "verdict"),
    [
        (10 * KIB, 4 * MIB, 1.0, "leak"),
        (10 * KIB - 1, 4 * MIB, 1.0, "moderate"),
        (10 * KIB, 4 * MIB - 1, 1.0, "stable"),
        (1 * KIB, 4 * MIB, 9.99, "moderate"),
        (1 * KIB - 1, 4 * MIB, 9.99, "stable"),
        (0.0, 0.0, 10.0, "moderate"),
    ],
)
def test_verdict_thresholds(bpr: float, growth: float, pct: float, verdict: str) -> None:
    assert verdict_for(bpr, growth, pct) == verdict


@pytest.mark.parametrize(
    "samples",
    [
        [],
        [MemorySample(0, 40 * MIB, 0.0)],
        [MemorySample(100, 40 * MIB, 0.0), MemorySample(100, 41 * MIB, 1.0)],
        [MemorySample(0, 40 * MIB, 0.0), MemorySample(100, 80 * MIB, 1.0)],  # two points
    ],
)
def test_few_samples_are_insufficient_not_a_crash(samples: list[MemorySample]) -> None:
    a = analyze(samples)
    assert a.verdict == "insufficient"
    assert a.bytes_per_request == 0.0
    assert not a.passed


def test_the_sample_at_time_zero_is_part_of_the_fit() -> None:
    # flat after 500 requests; only the sample at zero carries the growth
    a = analyze(
        [
            MemorySample(0, 10 * MIB, 0.0),
            MemorySample(500, 11 * MIB, 2.0),
            MemorySample(1000, 11 * MIB, 4.0),
        ]
    )
    # x mean 500, y mean 10 2/3 MiB; sxy = 500 * 2/3 MiB + 500 * 1/3 MiB = 500 MiB
    assert a.bytes_per_request == pytest.approx(MIB / 1000)
    assert a.slope_bytes_per_s == pytest.approx(MIB / 4.0)
    assert a.rss_start_bytes == 10 * MIB
    later = [MemorySample(n, 11 * MIB, n / 250) for n in (500, 1000, 1500)]
    assert analyze(later).bytes_per_request == 0.0  # without it: flat


def test_warmup_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="pass 0 or more"):
        analyze([], warmup_requests=-1)


def test_stability_is_measured_around_the_mean() -> None:
    # mean 100, population stdev 10 -> 90 %
    values = [90.0, 110.0, 90.0, 110.0]
    assert stability_percent(values) == pytest.approx(90.0)
    # around the last value (the original's bug) the same series would read differently
    # from its reverse; around the mean it does not
    assert stability_percent(values[::-1]) == stability_percent(values)


def test_stability_of_a_linear_ramp() -> None:
    values = [float(v) for v in range(40, 141)]  # 40..140, mean 90
    stdev = math.sqrt(sum((v - 90.0) ** 2 for v in values) / len(values))
    assert stability_percent(values) == pytest.approx(100 * (1 - stdev / 90.0))
    assert stability_grade(stability_percent(values)) == "POOR"


def test_stability_edge_cases() -> None:
    assert stability_percent([]) == 100.0
    assert stability_percent([5.0]) == 100.0
    assert stability_percent([0.0, 0.0]) == 0.0
    assert stability_percent([1.0, 1.0, 1.0, 1000.0]) == 0.0  # stdev > mean: floored


@pytest.mark.parametrize(
    ("pct", "grade"),
    [
        (100, "EXCELLENT"),
        (90, "EXCELLENT"),
        (89.99, "GOOD"),
        (80, "GOOD"),
        (79.99, "MODERATE"),
        (70, "MODERATE"),
        (69.99, "POOR"),
        (0, "POOR"),
    ],
)
def test_stability_grades(pct: float, grade: str) -> None:
    assert stability_grade(pct) == grade


def test_efficiency_and_rating() -> None:
    assert efficiency_requests_per_mb(1024.0) == 1024.0
    assert efficiency_requests_per_mb(0.0) is None
    assert efficiency_requests_per_mb(-3.0) is None
    assert per_request_rating(1023) == "EXCELLENT"
    assert per_request_rating(1024) == "GOOD"
    assert per_request_rating(10 * KIB) == "POOR"
    assert per_request_rating(100 * KIB + 1) == "POOR"


def test_report_object_has_the_design_keys() -> None:
    rep = analyze(series(40 * MIB, 50 * KIB, [0, 100, 200])).to_report()
    assert rep["verdict"] == "leak"
    assert rep["bytes_per_request"] == pytest.approx(50 * KIB)
    assert {"growth_percent", "slope_bytes_per_s", "passed"} <= rep.keys()


# --- the chunked measurement, with a fake engine and a fake server --------------------


def leaking_server(leak: int) -> ChunkServer:
    """RSS = 40 MiB + `leak` bytes per request it has answered; the engine is `run`."""
    return ChunkServer(lambda answered: 40 * MIB + leak * answered)


def run_fake(leak: int, requests: int = 1000) -> tuple[list[MemorySample], list[str]]:
    server = leaking_server(leak)
    labels: list[str] = []
    clock: Callable[[], float] = lambda: server.now  # noqa: E731
    m = measure(
        server,
        LoadSpec(url=server.url, rate=500.0),
        leak_plan(requests),
        server.run,
        200,
        clock,
        lambda label, _samples: labels.append(label),
    )
    return m.samples, labels


def test_leak_detection_with_a_fake_leaking_server() -> None:
    samples, labels = run_fake(50 * KIB)
    assert samples[0] == MemorySample(0, 40 * MIB + 200 * 50 * KIB, 0.0)  # after warm-up
    assert [s.requests for s in samples] == list(range(0, 1001, 50))
    a = analyze(samples)
    assert a.verdict == "leak"
    assert a.bytes_per_request == pytest.approx(50 * KIB)
    assert a.slope_bytes_per_s == pytest.approx(50 * KIB * 500)  # 500 requests/s
    assert labels == ["Initial", "After 500 requests", "Final"]


def test_leak_detection_with_a_fake_stable_server() -> None:
    samples, _ = run_fake(0)
    assert analyze(samples).verdict == "stable"


def test_measure_needs_no_snapshot_callback() -> None:
    server = leaking_server(0)
    m = measure(
        server,
        LoadSpec(url=server.url, rate=100.0),
        baseline_plan(100),
        server.run,
        0,
        lambda: server.now,
    )
    assert [s.requests for s in m.samples] == [0, 20, 40, 60, 80, 100]


def test_split_and_plans() -> None:
    assert split_evenly(10, 3) == [4, 3, 3]
    assert split_evenly(2, 5) == [1, 1]
    assert sum(split_evenly(10000, 20)) == 10000
    assert len(leak_plan(10000).chunks) == 20
    p = growth_plan(60.0, 60.0, 500.0)
    assert p.chunks == [3000] * 10
    assert p.snapshot_after == set()
    p = growth_plan(120.0, 30.0, 100.0)
    assert p.chunks == [1000] * 12
    assert sorted(p.labels.values()) == ["T+30s", "T+60s", "T+90s"]


# --- a run report's own RSS series (`mcpperf client memory`) ------------------------


def test_completions_interpolate_the_per_second_rows() -> None:
    at = completions(
        {"timeseries": [{"t": 0, "ok": 100, "failed": 0}, {"t": 1, "ok": 50, "failed": 10}]}
    )
    assert [at(t) for t in (-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 9.0)] == [
        0.0,
        0.0,
        50.0,
        100.0,
        130.0,
        160.0,
        160.0,
    ]


def test_completions_without_rows_are_spread_over_the_run() -> None:
    at = completions({"requests": {"completed": 400}, "duration_s": 4.0})
    assert (at(1.0), at(4.0)) == (100.0, 400.0)


def test_samples_from_report_shift_by_the_warmup() -> None:
    report = {
        "config": {"warmup_s": 1.0},
        "timeseries": [{"t": 0, "ok": 10, "failed": 0}, {"t": 1, "ok": 10, "failed": 0}],
        "server": {
            "series": [
                {"t": 0.0, "rss_bytes": 5, "cpu_percent": None},
                {"t": 2.0, "rss_bytes": 6, "cpu_percent": 1.0},
                {"t": 3.5, "rss_bytes": 7, "cpu_percent": 1.0},
            ]
        },
    }
    assert samples_from_report(report) == [
        MemorySample(0, 5, 0.0),
        MemorySample(10, 6, 2.0),
        MemorySample(20, 7, 3.5),
    ]
    assert samples_from_report({"server": {"rss_mb": {}}}) == []


def test_a_steady_rise_through_the_second_half_is_a_leak_at_4_kib_per_request() -> None:
    samples = [MemorySample(500 * i, 40 * MIB + 500 * i * 4 * KIB, float(i)) for i in range(12)]
    a = analyze(samples)
    assert a.bytes_per_request < LEAK_BYTES_PER_REQUEST
    assert (a.verdict, a.trend) == ("leak", "rising")
    assert "second half" in a.reason
    assert a.second_half["bytes_per_request"] > 4000


def test_a_cache_filled_early_then_flat_is_not_a_leak() -> None:
    rss = [40, 65, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90]
    samples = [MemorySample(500 * i, r * MIB, float(i)) for i, r in enumerate(rss)]
    a = analyze(samples)
    assert a.verdict != "leak"
    assert a.trend == "plateau"
