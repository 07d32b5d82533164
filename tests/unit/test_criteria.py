"""criteria.py: threshold expressions and assertion helpers, on a result of known figures."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_mcpperf import (
    assert_error_rate,
    assert_memory_growth,
    assert_p99,
    assert_percentile,
    assert_recovery,
    assert_throughput,
)
from pytest_mcpperf.analysis.criteria import check_thresholds, failure_message, parse_threshold
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.result import LoadResult


def make_result(verdict: str = "valid", **changes: Any) -> LoadResult:
    report: dict[str, Any] = {
        "throughput_rps": 950.0,
        "requests": {"ok": 990, "failed": 10},
        "latency_ms": {
            "min": 0.5,
            "mean": 3.0,
            "p50": 2.5,
            "p90": 6.0,
            "p99": 120.0,
            "p999": 180.0,
            "max": 250.0,
        },
        "server": {"growth_percent": 12.5},
        "stress": {"recovery_s": 4.0},
        "accuracy": {"verdict": verdict},
    }
    report.update(changes)
    return LoadResult(report)


@pytest.mark.parametrize(
    ("text", "metric", "op", "limit"),
    [
        ("p99<100ms", "p99", "<", 100.0),
        ("p99 <= 0.25s", "p99", "<=", 250.0),
        ("p50<500us", "p50", "<", 0.5),
        ("error_rate<1%", "error_rate", "<", 1.0),
        ("rps>=1000", "rps", ">=", 1000.0),
        ("throughput>10rps", "rps", ">", 10.0),
        ("memory_growth<10%", "memory_growth", "<", 10.0),
        ("recovery<30s", "recovery", "<", 30.0),
    ],
)
def test_parse_threshold(text: str, metric: str, op: str, limit: float) -> None:
    t = parse_threshold(text)
    assert (t.metric.name, t.op) == (metric, op)
    assert t.limit == pytest.approx(limit)


@pytest.mark.parametrize("text", ["p98<100ms", "p99=100ms", "rps<5ms", "error_rate<1s", "p99<"])
def test_parse_threshold_rejects(text: str) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"invalid threshold '{text}' from marker x: expected "
        r"METRIC OP NUMBER\[UNIT\]",
    ):
        parse_threshold(text, "marker x")


def test_check_thresholds_values_and_outcomes() -> None:
    outcomes = check_thresholds(
        make_result(), ["p99<100ms", "error_rate<=1%", "rps>=900", "p50<3ms"]
    )
    assert [(o.name, o.value, o.passed) for o in outcomes] == [
        ("p99<100ms", 120.0, False),
        ("error_rate<=1%", 1.0, True),
        ("rps>=900", 950.0, True),
        ("p50<3ms", 2.5, True),
    ]
    assert outcomes[0].to_dict() == {
        "name": "p99<100ms",
        "op": "<",
        "limit": 100.0,
        "value": 120.0,
        "passed": False,
    }


def test_threshold_failure_message_names_metric_limit_value_and_knob() -> None:
    [failed] = [o for o in check_thresholds(make_result(), ["p99<100ms"]) if not o.passed]
    message = failure_message([failed])
    assert "threshold 'p99<100ms' failed: p99 latency was 120 ms, the limit is < 100 ms" in message
    assert "(from marker load thresholds 'p99<100ms')" in message
    assert "rate= or concurrency=" in message
    assert "CLIENT-BOUND" not in message


def test_client_bound_run_says_so() -> None:
    with pytest.raises(
        AssertionError,
        match=r"(?s)throughput was 950 rps.*CLIENT-BOUND.*the "
        r"load generator, not the server, was the limit",
    ):
        assert_throughput(make_result("client_bound"), min_rps=1000)


def test_missing_metric_fails_plainly() -> None:
    result = LoadResult({"requests": {"ok": 0, "failed": 0}})
    with pytest.raises(
        AssertionError,
        match=r"server memory growth \(server.growth_percent\) "
        r"was not measured",
    ):
        assert_memory_growth(result, max_percent=10)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda r: assert_throughput(r, min_rps=1000),
            r"throughput was 950 rps, the limit is >= 1000 rps "
            r"\(from assert_throughput\(min_rps=1000\)\).\n"
            r"To change it: the offered load is the load marker's rate=",
        ),
        (
            lambda r: assert_p99(r, max_ms=100),
            r"p99 latency was 120 ms, the limit is <= 100 ms \(from assert_p99\(max_ms=100\)\)",
        ),
        (
            lambda r: assert_percentile(r, 99.9, max_ms=150),
            r"p999 latency was 180 ms, the limit is <= 150 ms \(from assert_percentile\(pct=99.9",
        ),
        (
            lambda r: assert_error_rate(r, max_percent=0.5),
            r"error rate was 1%, the limit is <= 0.5% "
            r"\(from assert_error_rate\(max_percent=0.5\)\)",
        ),
        (
            lambda r: assert_memory_growth(r, max_percent=10),
            r"(?s)server memory growth was 12.5%, the limit is <= 10%.*duration=",
        ),
        (
            lambda r: assert_recovery(r, max_seconds=3),
            r"recovery time was 4 s, the limit is <= 3 s \(from assert_recovery\(max_seconds=3\)\)",
        ),
    ],
)
def test_helpers_fail_with_explaining_messages(call: Any, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        call(make_result())


def test_helpers_pass_within_limits() -> None:
    result = make_result()
    assert_throughput(result, min_rps=900)
    assert_p99(result, max_ms=120)
    assert_percentile(result, 50, max_ms=2.5)
    assert_error_rate(result, max_percent=1)
    assert_memory_growth(result, max_percent=13)
    assert_recovery(result, max_seconds=30)


def test_helpers_accept_a_plain_report_dict() -> None:
    with pytest.raises(AssertionError, match="error rate was 50%"):
        assert_error_rate({"requests": {"ok": 1, "failed": 1}}, max_percent=1)


def test_assert_percentile_rejects_unknown_percentile() -> None:
    with pytest.raises(ConfigError, match=r"invalid percentile 95 for assert_percentile"):
        assert_percentile(make_result(), 95, max_ms=1)


def test_error_rate_failure_shows_the_error_classes() -> None:
    result = LoadResult(
        {
            "requests": {
                "ok": 0,
                "failed": 200,
                "errors": {"tool_error": 0, "rpc_error": 200, "timeout": 0},
            },
            "errors_by_code": {"rpc_error": {"-32602": 200}},
        }
    )
    with pytest.raises(
        AssertionError,
        match=r"error rate was 100%; errors: rpc_error 200 "
        r"\(-32602 x200\), the limit is <= 1%",
    ):
        assert_error_rate(result, max_percent=1)
