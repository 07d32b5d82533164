"""Pass/fail criteria on a `LoadResult`: assertion helpers and threshold expressions.

A threshold is a short expression such as ``"p99<100ms"``, ``"error_rate<1%"`` or
``"rps>=1000"``. The assertion helpers (`assert_p99`, ...) and the `load` marker's
`thresholds` share one implementation, so both fail the same way: the message names the
metric, the limit, the measured value and the knob that changes it, and says plainly
when the load generator, not the server, was the limit of the run.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_mcpperf.analysis.memory import GROWTH_LIMIT_PERCENT, analyze_run
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.vocabulary import option

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}


@dataclass(frozen=True)
class Metric:
    """A measurable figure of a run: where it lives and how to talk about it."""

    name: str
    label: str
    unit: str  # canonical unit of `value` ("ms", "rps", "%", "s")
    path: tuple[str, ...]
    knob: str  # what changes it, for failure messages
    units: Mapping[str, float]  # accepted units in expressions -> factor to canonical


_LATENCY_UNITS = {"": 1.0, "ms": 1.0, "s": 1000.0, "us": 0.001}
_LATENCY_KNOB = (
    "less load through the load marker's rate= or concurrency= keywords "
    "(or run(rate=...)), or a higher limit"
)


def _latency(key: str, label: str) -> Metric:
    return Metric(key, f"{label} latency", "ms", ("latency_ms", key), _LATENCY_KNOB, _LATENCY_UNITS)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        *(_latency(k, k) for k in ("p50", "p90", "p99", "p999")),
        _latency("max", "max"),
        _latency("mean", "mean"),
        _latency("min", "min"),
        Metric(
            "rps",
            "throughput",
            "rps",
            ("throughput_rps",),
            "the offered load is the load marker's rate= keyword (with concurrency=); "
            "--perf-processes N adds generator processes when the client is the limit",
            {"": 1.0, "rps": 1.0, "/s": 1.0},
        ),
        Metric(
            "error_rate",
            "error rate",
            "%",
            ("error_rate",),
            "the load marker's rate= and timeout= keywords, or a higher limit",
            {"": 1.0, "%": 1.0},
        ),
        Metric(
            "memory_growth",
            "server memory growth",
            "%",
            ("server", "growth_percent"),
            "the load marker's duration= keyword (or --perf-duration), or a higher limit",
            {"": 1.0, "%": 1.0},
        ),
        Metric(
            "recovery",
            "recovery time",
            "s",
            ("stress", "recovery_s"),
            "the stress scenario's load (rate=, duration=), or a higher limit",
            {"": 1.0, "s": 1.0, "ms": 0.001},
        ),
    )
}
METRICS["throughput"] = METRICS["rps"]

_EXPR = re.compile(r"^\s*([a-z_0-9]+)\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+)\s*(ms|us|s|%|rps|/s)?\s*$")


@dataclass(frozen=True)
class Threshold:
    """A parsed threshold expression; `limit` is in the metric's canonical unit."""

    text: str
    metric: Metric
    op: str
    limit: float


@dataclass(frozen=True)
class Outcome:
    """One checked criterion: the report's `criteria` entry, plus its failure message."""

    name: str
    op: str
    limit: float
    value: float | None
    passed: bool
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "op": self.op,
            "limit": self.limit,
            "value": self.value,
            "passed": self.passed,
        }


def parse_threshold(text: str, where: str = "thresholds") -> Threshold:
    """Parse ``"p99<100ms"``-style text; raise ConfigError naming `where` and the choices."""
    match = _EXPR.match(text)
    metric = METRICS.get(match.group(1)) if match else None
    if match is None or metric is None or (match.group(4) or "") not in metric.units:
        raise ConfigError(
            f"invalid threshold {text!r} from {where}: expected METRIC OP NUMBER[UNIT] with "
            f"METRIC one of {', '.join(sorted(METRICS))} and OP one of <, <=, >, >=, "
            "e.g. 'p99<100ms', 'error_rate<1%', 'rps>=1000'"
        )
    _, op, number, unit = match.groups()
    return Threshold(text, metric, op, float(number) * metric.units[unit or ""])


def _as_result(result: Mapping[str, Any]) -> LoadResult:
    return result if isinstance(result, LoadResult) else LoadResult(result)


def measured(result: Mapping[str, Any], metric: Metric) -> float | None:
    """The metric's value in `result`, or None when the run did not measure it."""
    if metric.name == "error_rate":
        return 100.0 * _as_result(result).error_rate
    node: Any = result
    for key in metric.path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, int | float) else None


def _fmt(value: float, unit: str) -> str:
    return f"{value:.4g} {unit}" if unit != "%" else f"{value:.4g}%"


def _client_note(result: Mapping[str, Any]) -> str:
    r = _as_result(result)
    if r.contended:
        reason = result.get("accuracy", {}).get("reason", "")
        return (
            "\nNote: this run was CONTENDED (accuracy.verdict=contended): other work on "
            f"the host disturbed it, so this figure describes a starved host: {reason}"
        )
    if not r.client_bound:
        return ""
    return (
        "\nNote: this run was CLIENT-BOUND (accuracy.verdict=client_bound): the load "
        "generator, not the server, was the limit, so this figure describes the client. "
        "Add generator processes with --perf-processes N (or load(processes=N)) or offer "
        "less load, then measure again."
    )


def _error_detail(result: Mapping[str, Any]) -> str:
    """`; errors: rpc_error 200 (-32602 x200)` from the report's error counters."""
    errors = result.get("requests", {}).get("errors", {})
    by_code = result.get("errors_by_code", {})
    parts = []
    for kind, count in errors.items():
        if not count:
            continue
        codes = by_code.get(kind, {})
        shown = ", ".join(f"{code} x{n}" for code, n in list(codes.items())[:3])
        parts.append(f"{kind} {count}" + (f" ({shown})" if shown else ""))
    return f"; errors: {', '.join(parts)}" if parts else ""


#: Metrics computed from successful responses only: with none, there is nothing to check.
_FROM_OK_RESPONSES = ("latency_ms", "service_time_ms", "throughput_rps")


def _no_successes(result: Mapping[str, Any], metric: Metric) -> str | None:
    """The failure text when `metric` needs ok responses and the run had none."""
    if metric.path[0] not in _FROM_OK_RESPONSES:
        return None
    requests = result.get("requests") or {}
    if int(requests.get("ok", 0) or 0) > 0:
        return None
    failed = int(requests.get("failed", 0) or 0)
    by_class = ", ".join(
        f"{kind} {count}" for kind, count in (requests.get("errors") or {}).items() if count
    )
    return f"no successful responses: {failed} failed" + (
        f" (by class {by_class})" if by_class else ""
    )


def evaluate(
    result: Mapping[str, Any],
    metric: Metric,
    op: str,
    limit: float,
    source: str,
    name: str | None = None,
) -> Outcome:
    """Check one criterion; the failure message names metric, limit, value and knob."""
    value = measured(result, metric)
    shown = name or metric.name
    if value is None or math.isnan(value):
        return Outcome(
            shown,
            op,
            limit,
            None,
            False,
            f"{metric.label} ({'.'.join(metric.path)}) was not measured in this "
            f"run, so {shown} {op} {_fmt(limit, metric.unit)} (from {source}) cannot "
            "hold; check that the run completed requests (and, for memory, that "
            "the server was spawned by the plugin so its pid is known)",
        )
    empty = _no_successes(result, metric)
    if empty is not None:
        return Outcome(
            shown,
            op,
            limit,
            None,
            False,
            f"{empty}{_error_detail(result)}, so {shown} {op} {_fmt(limit, metric.unit)} "
            f"(from {source}) has nothing to measure; make the requests succeed first "
            "(the error codes above say why they failed)",
        )
    if OPS[op](value, limit):
        return Outcome(shown, op, limit, value, True)
    detail = _error_detail(result) if metric.name == "error_rate" else ""
    return Outcome(
        shown,
        op,
        limit,
        value,
        False,
        f"{metric.label} was {_fmt(value, metric.unit)}{detail}, the limit is {op} "
        f"{_fmt(limit, metric.unit)} (from {source}).\nTo change it: {metric.knob}."
        f"{_client_note(result)}",
    )


def check_thresholds(
    result: Mapping[str, Any], thresholds: Iterable[str], where: str = "marker load thresholds"
) -> list[Outcome]:
    """Evaluate every threshold expression against `result`."""
    outcomes = []
    for text in thresholds:
        t = parse_threshold(text, where)
        outcomes.append(evaluate(result, t.metric, t.op, t.limit, f"{where} {text!r}", name=t.text))
    return outcomes


# ---------------------------------------------------------------- the memory criterion

#: The seed's memory criterion, `memory_check=True`: no leak and under 10 % growth.
SEED_MEMORY_GROWTH_PERCENT = GROWTH_LIMIT_PERCENT


def memory_knob(front_end: str) -> str:
    """What changes the memory check's outcome, in `front_end`'s words."""
    return (
        "find what the server keeps per call (a leak keeps rising to the run's end), give "
        f"caches time to fill with a warm-up ({option(front_end, 'warmup')}), or allow "
        f"more growth ({option(front_end, 'memory_check')})"
    )


def check_memory(
    result: Mapping[str, Any], max_growth_percent: float, source: str, front_end: str = "api"
) -> tuple[Outcome, dict[str, Any] | None]:
    """The memory criterion over one run's server RSS readings: the verdict is neither
    `leak` nor `insufficient`, and the fitted growth is under `max_growth_percent`.

    Returns the outcome (named ``memory``, its value the growth in percent) and the
    report's `memory` object (verdict, growth, both halves' slopes, reason), or None when
    the run has no readings. The message names the verdict, its reason, the growth, the
    limit, where the limit came from and what changes it (in `front_end`'s words).
    """
    a = analyze_run(result)
    name, op = "memory", "<"
    rule = f"no leak, growth < {max_growth_percent:g}%, from {source}"
    if a is None:
        return Outcome(
            name,
            op,
            max_growth_percent,
            None,
            False,
            f"server memory was not measured in this run, so the memory check ({rule}) "
            "cannot hold: the "
            "server's RSS is read from its pid (spawn the server, or give its pid)",
        ), None
    memory = a.to_report()
    growth = round(a.growth_percent, 3)
    problems = []
    if a.verdict == "insufficient":
        problems.append(f"too few RSS readings for a verdict ({a.reason}); run longer")
    elif a.verdict == "leak":
        problems.append(f"the server LEAKS memory: {a.reason}")
    if a.verdict != "insufficient" and not growth < max_growth_percent:
        problems.append(
            f"server memory grew {growth:.4g}% ({a.growth_bytes / 2**20:+.1f} MiB fitted over "
            f"{a.requests} requests), the limit is < {max_growth_percent:g}%"
            + (f"; verdict {a.verdict}: {a.reason}" if a.verdict != "leak" else "")
        )
    if not problems:
        return Outcome(name, op, max_growth_percent, growth, True), memory
    return Outcome(
        name,
        op,
        max_growth_percent,
        growth if a.verdict != "insufficient" else None,
        False,
        "; ".join(problems)
        + f" (criterion: {rule}).\nTo change it: {memory_knob(front_end)}.{_client_note(result)}",
    ), memory


def failure_message(failed: Iterable[Outcome]) -> str:
    """One assertion message for every failed threshold."""
    lines = [
        f"{'memory check' if o.name == 'memory' else f'threshold {o.name!r}'} failed: {o.message}"
        for o in failed
    ]
    return "\n".join(lines)


def _check(result: Mapping[str, Any], metric: str, op: str, limit: float, source: str) -> None:
    __tracebackhide__ = True
    outcome = evaluate(result, METRICS[metric], op, limit, source)
    if not outcome.passed:
        raise AssertionError(outcome.message)


# ---------------------------------------------------------------- assertion helpers


def assert_throughput(result: Mapping[str, Any], min_rps: float) -> None:
    """Fail unless the run completed at least `min_rps` ok requests per second."""
    __tracebackhide__ = True
    _check(result, "rps", ">=", min_rps, f"assert_throughput(min_rps={min_rps:g})")


def assert_p99(result: Mapping[str, Any], max_ms: float) -> None:
    """Fail unless p99 latency (from intended send time) is at most `max_ms`."""
    __tracebackhide__ = True
    _check(result, "p99", "<=", max_ms, f"assert_p99(max_ms={max_ms:g})")


def assert_percentile(result: Mapping[str, Any], pct: float, max_ms: float) -> None:
    """Fail unless the `pct` latency percentile (50, 90, 99, 99.9, 100) is at most `max_ms`."""
    __tracebackhide__ = True
    key = {50: "p50", 90: "p90", 99: "p99", 99.9: "p999", 100: "max"}.get(pct)
    if key is None:
        raise ConfigError(
            f"invalid percentile {pct!r} for assert_percentile: the report "
            "holds 50, 90, 99, 99.9 and 100 (max); use one of those"
        )
    _check(result, key, "<=", max_ms, f"assert_percentile(pct={pct:g}, max_ms={max_ms:g})")


def assert_error_rate(result: Mapping[str, Any], max_percent: float) -> None:
    """Fail unless failed requests are at most `max_percent` percent of finished ones."""
    __tracebackhide__ = True
    _check(
        result, "error_rate", "<=", max_percent, f"assert_error_rate(max_percent={max_percent:g})"
    )


def assert_memory_growth(result: Mapping[str, Any], max_percent: float) -> None:
    """Fail unless the server's RSS grew by at most `max_percent` percent over the run."""
    __tracebackhide__ = True
    _check(
        result,
        "memory_growth",
        "<=",
        max_percent,
        f"assert_memory_growth(max_percent={max_percent:g})",
    )


def assert_recovery(result: Mapping[str, Any], max_seconds: float) -> None:
    """Fail unless the server recovered from the stress event within `max_seconds`."""
    __tracebackhide__ = True
    _check(result, "recovery", "<=", max_seconds, f"assert_recovery(max_seconds={max_seconds:g})")
