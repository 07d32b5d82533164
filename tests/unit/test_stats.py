from __future__ import annotations

import random

import pytest

from pytest_mcpperf.engine import stats
from pytest_mcpperf.engine.stats import Recorder, RunStats


def _uniform_ms() -> list[int]:
    """1..1000 ms, each value once, in microseconds."""
    return [ms * 1000 for ms in range(1, 1001)]


def test_percentiles_of_a_known_distribution() -> None:
    h = stats.new_histogram()
    for v in _uniform_ms():
        h.record_value(v)
    s = stats.summary_ms(h)
    # HDR with 3 significant digits: values within 0.1 %
    assert s["min"] == pytest.approx(1.0, rel=1e-3)
    assert s["p50"] == pytest.approx(500.0, rel=1e-3)
    assert s["p90"] == pytest.approx(900.0, rel=1e-3)
    assert s["p99"] == pytest.approx(990.0, rel=1e-3)
    assert s["p999"] == pytest.approx(999.0, rel=1e-3)
    assert s["max"] == pytest.approx(1000.0, rel=1e-3)
    assert s["mean"] == pytest.approx(500.5, rel=1e-3)


def test_bimodal_distribution() -> None:
    h = stats.new_histogram()
    h.record_value(1000, 95)  # 95 x 1 ms
    h.record_value(200_000, 5)  # 5 x 200 ms
    s = stats.summary_ms(h)
    assert s["p90"] == 1.0
    assert s["p99"] == pytest.approx(200.0, rel=1e-3)
    assert s["mean"] == pytest.approx((95 * 1 + 5 * 200) / 100, rel=1e-3)


def test_empty_summary_is_zeros() -> None:
    assert stats.summary_ms(stats.new_histogram())["p99"] == 0.0


def _stats_from(values: list[int], tool: str = "t") -> RunStats:
    rec = Recorder([tool])
    for i, v in enumerate(values):
        rec.sent()
        rec.ok(0, v, v // 2)
        if i % 100 == 0:
            rec.roll(rec.second + 1)
    rec.error(0, "http_error", "503")
    rec.roll()
    return rec.stats


def test_merge_of_parts_equals_one_histogram() -> None:
    rng = random.Random(5)
    values = [int(rng.lognormvariate(8, 1.5)) + 1 for _ in range(3000)]
    whole = stats.new_histogram()
    for v in values:
        whole.record_value(v)
    parts = [_stats_from(values[k::3]) for k in range(3)]
    wire = [RunStats.from_wire(p.to_wire()) for p in parts]  # through the encoding
    merged = stats.merged(wire)
    m = merged.total("latency")
    assert m.get_total_count() == whole.get_total_count() == 3000
    for pct in (0.0, 50.0, 90.0, 99.0, 99.9, 100.0):
        assert m.get_value_at_percentile(pct) == whole.get_value_at_percentile(pct)
    assert m.get_max_value() == whole.get_max_value()
    assert m.get_min_value() == whole.get_min_value()
    assert list(m.counts) == list(whole.counts)
    assert merged.ok == 3000
    assert merged.errors["http_error"] == {"503": 3}
    assert merged.sent == 3000


def test_recorder_series_rows() -> None:
    rec = Recorder(["a", "b"])
    rec.sent()
    rec.sent()
    rec.ok(0, 1000, 500)
    rec.error(1, "timeout", "timeout")
    rec.roll(1)
    rec.sent()
    rec.ok(1, 3000, 2000)
    rec.roll(2)
    rows = [r.to_dict() for r in rec.stats.series]
    p99s = [row.pop("p99_ms") for row in rows]
    services = [row.pop("service_p99_ms") for row in rows]
    for row in rows:
        for key in ("p50_ms", "p90_ms", "max_ms", "service_p50_ms"):
            row.pop(key)
    assert rows == [
        {"t": 0, "sent": 2, "ok": 1, "failed": 1, "errors": {"timeout": {"timeout": 1}}},
        {"t": 1, "sent": 1, "ok": 1, "failed": 0},
    ]
    assert p99s == [pytest.approx(1.0, rel=0.01), pytest.approx(3.0, rel=0.01)]
    assert services == [pytest.approx(0.5, rel=0.01), pytest.approx(2.0, rel=0.01)]
    assert rec.last_p99_ms() == pytest.approx(3.0, rel=0.01)
    again = stats.RunStats.from_wire(rec.stats.to_wire())
    assert [r.to_dict() for r in again.series] == [r.to_dict() for r in rec.stats.series]
    assert rec.stats.tools["b"].failed == 1
    assert rec.stats.error_counts()["timeout"] == 1
    assert stats.summary_ms(rec.stats.total("service"))["max"] == 2.0


def test_fast_mean_equals_hdr_mean() -> None:
    rng = random.Random(9)
    h = stats.new_histogram()
    for _ in range(5000):
        h.record_value(int(rng.expovariate(1 / 3000.0)) + 1)
    assert stats.mean_us(h) == pytest.approx(h.get_mean_value(), rel=1e-12)
    assert stats.mean_us(stats.new_histogram()) == 0.0


def test_a_closed_second_is_kept_compressed_and_reads_the_same() -> None:
    rec = stats.Recorder(["a"])
    for second in range(1, 4):
        for i in range(2000):
            rec.ok(0, 100 + 7 * i, 50 + i)
        rec.roll(second)
    rows = rec.stats.series
    assert all(row._live is None for row in rows)  # each closed second is packed
    assert all(sum(map(len, row.encoded())) < 16_000 for row in rows)  # vs ~54 KiB live
    assert rows[0].to_dict()["p99_ms"] == pytest.approx(13.95, rel=0.01)
    again = stats.RunStats.from_wire(rec.stats.to_wire())
    assert [r.to_dict() for r in again.series] == [r.to_dict() for r in rows]
    both = stats.merged([rec.stats, again])
    assert both.series[1].to_dict()["ok"] == 4000
    assert both.series[1].to_dict()["p50_ms"] == rows[1].to_dict()["p50_ms"]
