from __future__ import annotations

import itertools
import math
import statistics

import pytest

from pytest_mcpperf.engine import schedule


def test_constant_offsets_are_computed_from_the_start() -> None:
    plan = schedule.Constant(rate=4.0, duration_s=1.0)
    assert list(plan.offsets()) == [0.0, 0.25, 0.5, 0.75]
    big = list(schedule.Constant(rate=1000.0, duration_s=10.0).offsets())
    assert len(big) == 10_000
    assert big[9999] == 9999 / 1000.0  # no accumulated drift


def test_constant_fractional_count() -> None:
    assert list(schedule.Constant(rate=3.0, duration_s=0.5).offsets()) == [0.0, 1 / 3]
    assert schedule.count(schedule.Constant(rate=0.0, duration_s=5.0)) == 0


def test_poisson_is_reproducible_with_the_right_mean_rate() -> None:
    a = list(schedule.Poisson(rate=500.0, duration_s=20.0, seed=7).offsets())
    b = list(schedule.Poisson(rate=500.0, duration_s=20.0, seed=7).offsets())
    c = list(schedule.Poisson(rate=500.0, duration_s=20.0, seed=8).offsets())
    assert a == b
    assert a != c
    assert len(a) == pytest.approx(10_000, rel=0.05)
    gaps = [y - x for x, y in itertools.pairwise(a)]
    assert statistics.mean(gaps) == pytest.approx(1 / 500.0, rel=0.05)
    assert all(0 < t < 20.0 for t in a)
    assert a == sorted(a)


def test_ramp_offsets_solve_the_integral_exactly() -> None:
    plan = schedule.Ramp(start_rate=10.0, end_rate=30.0, duration_s=10.0)
    offsets = list(plan.offsets())
    # integral of 10 + 2t over 10 s = 100 + 100 = 200 requests
    assert len(offsets) == 200
    for i, t in enumerate(offsets):
        assert 10.0 * t + t * t == pytest.approx(i, abs=1e-9)
    assert plan.target_rps == 20.0


def test_ramp_flat_is_constant() -> None:
    flat = list(schedule.Ramp(5.0, 5.0, 2.0).offsets())
    assert flat == [i / 5.0 for i in range(10)]


def test_ramp_down() -> None:
    offsets = list(schedule.Ramp(30.0, 10.0, 10.0).offsets())
    assert len(offsets) == 200
    for i, t in enumerate(offsets):
        assert 30.0 * t - t * t == pytest.approx(i, abs=1e-9)


def test_burst_sends_the_whole_burst_at_each_interval() -> None:
    plan = schedule.Burst(size=3, interval_s=5.0, duration_s=12.0)
    assert list(plan.offsets()) == [0.0] * 3 + [5.0] * 3 + [10.0] * 3
    assert plan.target_rps == 0.6


def test_stages_compose_baseline_stress_recovery() -> None:
    plan = schedule.Stages(
        [schedule.Constant(2.0, 1.0), schedule.Constant(4.0, 1.0), schedule.Constant(1.0, 2.0)]
    )
    assert list(plan.offsets()) == [0.0, 0.5, 1.0, 1.25, 1.5, 1.75, 2.0, 3.0]
    assert plan.duration_s == 4.0
    assert plan.target_rps == pytest.approx(8 / 4.0)


def test_shards_partition_the_plan_exactly() -> None:
    plan = schedule.Poisson(rate=300.0, duration_s=3.0, seed=1)
    full = list(plan.offsets())
    parts = [list(schedule.shard(plan, k, 3)) for k in range(3)]
    assert sorted(t for p in parts for t in p) == full
    assert parts[1] == full[1::3]
    assert [len(p) for p in parts] == [math.ceil((len(full) - k) / 3) for k in range(3)]
    with pytest.raises(ValueError, match="out of range"):
        schedule.shard(plan, 3, 3)


def test_shard_users() -> None:
    assert [schedule.shard_users(64, k, 3) for k in range(3)] == [22, 21, 21]
    assert [schedule.shard_users(1, k, 2) for k in range(2)] == [1, 0]


def test_baseline_stress_recovery() -> None:
    plan = schedule.baseline_stress_recovery(2.0, 6.0, baseline_s=1.0, stress_s=0.5, recovery_s=1.0)
    assert list(plan.offsets()) == [0.0, 0.5, 1.0, 1.0 + 1 / 6, 1.0 + 2 / 6, 1.5, 2.0]
    assert plan.duration_s == 2.5
