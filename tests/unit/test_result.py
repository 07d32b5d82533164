from __future__ import annotations

import pytest

from pytest_mcpperf import LoadResult


def _report() -> dict[str, object]:
    return {
        "schema": "mcpperf/1",
        "pattern": "throughput",
        "throughput_rps": 990.5,
        "requests": {"ok": 990, "failed": 10},
        "latency_ms": {"p50": 1.5, "p99": 12.25},
        "accuracy": {"verdict": "client_bound"},
    }


def test_attributes_mirror_report_keys() -> None:
    result = LoadResult(_report())
    assert result.latency_ms.p99 == 12.25
    assert result.throughput_rps == 990.5
    assert result.error_rate == pytest.approx(0.01)
    assert result.client_bound is True


def test_missing_key_names_its_path() -> None:
    result = LoadResult(_report())
    with pytest.raises(AttributeError, match=r"latency_ms has no key 'p77'"):
        _ = result.latency_ms.p77


def test_to_dict_is_a_copy() -> None:
    result = LoadResult(_report())
    d = result.to_dict()
    d["requests"]["ok"] = 0
    assert result.requests.ok == 990


def test_a_result_of_a_result_and_copies_of_it() -> None:
    import copy

    inner = LoadResult(_report())
    outer = LoadResult(inner)
    assert outer.latency_ms.p99 == 12.25
    assert outer.to_dict() == _report()
    assert copy.deepcopy(inner.latency_ms)["p99"] == 12.25
    nested = LoadResult({**_report(), "stress": inner.requests})
    assert nested.to_dict()["stress"] == {"ok": 990, "failed": 10}
