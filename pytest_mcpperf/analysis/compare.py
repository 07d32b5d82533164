"""Did a change make the server slower? Per-run summaries of two servers, compared.

The unit of evidence is the run, not the request: requests inside one run share the
machine's state at that moment (a noisy neighbour, a CPU frequency step), so comparing
all the requests of one run with all those of another calls any run-to-run wobble a
regression. Each run is reduced to a few summary figures (`run_summary`), and a metric
is compared across runs: baseline runs against candidate runs.

The method, for 4-10 runs a side and the standard library only:

- every figure is compared on a log scale, so a change is a ratio ("12 % slower") and a
  figure's run-to-run noise, which grows with the figure, stays about constant;
- the estimate is the Hodges-Lehmann shift (the median of all candidate-minus-baseline
  differences of the logs) and the interval is the exact distribution-free one that
  goes with the Mann-Whitney test: order statistics of those differences, the order
  chosen from the exact null distribution of U. No normality is assumed, and the
  stated confidence is what small samples really get (`achieved_confidence`);
- the confidence is shared out over the gated metrics (Bonferroni), so the top
  verdict, "slower when any gated metric is confidently slower", keeps its false-alarm
  rate at 1 - confidence when nothing changed.

A metric's verdict: `unchanged` when the whole interval lies within +-delta;
`slower` / `faster` when the interval excludes zero; otherwise `inconclusive`, with the
number of runs a side that would likely settle it. A percentile is compared only when
every run has a response above it (`MIN_OK_FOR`: p99 of 20 responses is their slowest,
which one hiccup decides). A run whose generator self-check
was not `valid` (the client, not the server, was measured) makes the comparison
`inconclusive`, never `slower`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pytest_mcpperf.errors import ConfigError

Summary = dict[str, Any]

#: metric -> (where it is in a report, True when a larger value is better, its unit)
METRICS: dict[str, tuple[tuple[str, ...], bool, str]] = {
    "rps": (("throughput_rps",), True, "ok/s"),
    "p50": (("latency_ms", "p50"), False, "ms"),
    "p90": (("latency_ms", "p90"), False, "ms"),
    "p99": (("latency_ms", "p99"), False, "ms"),
    "server_cpu_percent": (("server", "cpu_percent", "mean"), False, "%"),
    "server_rss_mb": (("server", "rss_mb", "peak"), False, "MB"),
}
VERDICTS = ("slower", "faster", "unchanged", "inconclusive")
DEFAULT_GATES = "p50:10%,p99:10%,rps:5%"
DEFAULT_DELTA_PERCENT = 3.0
DEFAULT_CONFIDENCE = 0.95
MAX_RUNS_NEEDED = 1000
#: successful responses a run needs before its percentile is more than its slowest one:
#: at least one response above it (p99 of 20 responses is their maximum, not a p99)
MIN_OK_FOR: dict[str, int] = {"p50": 2, "p90": 10, "p99": 100}


# ---------------------------------------------------------------- per-run summaries


def _get(report: Mapping[str, Any], path: Sequence[str]) -> Any:
    node: Any = report
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def run_summary(report: Mapping[str, Any]) -> Summary:
    """The figures of one run that comparisons use, plus its error rate and self-check.

    Latency percentiles are None when nothing succeeded (there is no latency to compare).
    """
    out: Summary = {}
    ok = _get(report, ("requests", "ok")) or 0
    failed = _get(report, ("requests", "failed")) or 0
    for name, (path, _, _) in METRICS.items():
        value = _get(report, path)
        measured = isinstance(value, int | float) and not isinstance(value, bool)
        if name.startswith("p") and not ok:
            measured = False
        out[name] = float(value) if measured else None
    out["ok"] = int(ok)
    out["error_rate"] = failed / (ok + failed) if ok + failed else 0.0
    out["accuracy"] = str(_get(report, ("accuracy", "verdict")) or "valid")
    if out["accuracy"] != "valid":
        out["accuracy_reason"] = str(_get(report, ("accuracy", "reason")) or "")
    out["started_at"] = report.get("started_at")
    return out


def spread(summaries: Sequence[Summary]) -> dict[str, dict[str, float]]:
    """Per metric over repeats: min, median, max, and the coefficient of variation (%)."""
    out: dict[str, dict[str, float]] = {}
    for name in (*METRICS, "error_rate"):
        values = [float(s[name]) for s in summaries if isinstance(s.get(name), int | float)]
        if not values:
            continue
        mean = statistics.fmean(values)
        cv = 100.0 * statistics.stdev(values) / mean if len(values) > 1 and mean else 0.0
        out[name] = {
            "min": min(values),
            "median": statistics.median(values),
            "max": max(values),
            "cv_percent": round(cv, 2),
        }
    return out


def with_repeats(reports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Several repeats of one scenario as one report: the median repeat (by p50) with
    `repeats` (each repeat's summary and histograms) and `spread` (over the repeats).

    The median repeat stands for the scenario in tables and thresholds; a single
    repeat is returned unchanged."""
    if len(reports) == 1:
        return dict(reports[0])
    summaries = [run_summary(r) for r in reports]
    order = sorted(range(len(reports)), key=lambda i: summaries[i]["p50"] or math.inf)
    out = dict(reports[order[len(order) // 2]])
    out["repeats"] = [
        {"summary": s, "histograms": r.get("histograms", {})}
        for s, r in zip(summaries, reports, strict=True)
    ]
    out["spread"] = spread(summaries)
    return out


def summaries_of(report: Mapping[str, Any]) -> list[Summary]:
    """The per-run summaries a report holds: each repeat's, or its own."""
    repeats = report.get("repeats")
    if isinstance(repeats, list) and repeats:
        return [dict(r["summary"]) for r in repeats]
    return [run_summary(report)]


# ---------------------------------------------------------------- gates


@dataclass(frozen=True)
class Gate:
    """A metric that decides the verdict, and the regression (%) allowed before failing."""

    metric: str
    limit_percent: float


def parse_gates(text: str, where: str = "--fail-on") -> tuple[Gate, ...]:
    """`p99:10%,rps:5%` -> gates. A limit of 0 % fails on any confident regression."""
    gates: list[Gate] = []
    for item in (part.strip() for part in text.split(",")):
        name, sep, limit = item.partition(":")
        number = limit.strip().removesuffix("%")
        try:
            value = float(number) if sep else -1.0
        except ValueError:
            value = -1.0
        if name.strip() not in METRICS or not 0 <= value < float("inf"):
            raise ConfigError(
                f"invalid gate {item!r} from {where}: expected METRIC:PERCENT%, METRIC one of "
                f"{', '.join(METRICS)}, e.g. p99:10%,rps:5%"
            )
        gates.append(Gate(name.strip(), value))
    if not gates:
        raise ConfigError(f"no gates in {text!r} from {where}: give e.g. p99:10%,rps:5%")
    return tuple(gates)


# ---------------------------------------------------------------- the exact interval


@cache
def _u_counts(n: int, m: int) -> tuple[int, ...]:
    """How many of the C(n+m, n) orderings give each value 0..n*m of Mann-Whitney's U."""
    if n == 0 or m == 0:
        return (1,)
    a = _u_counts(n - 1, m)  # the largest value is a baseline one: it beats no candidate
    b = _u_counts(n, m - 1)  # ... a candidate one: it beats all n baseline values
    out = [0] * (n * m + 1)
    for u, c in enumerate(a):
        out[u] += c
    for u, c in enumerate(b):
        out[u + n] += c
    return tuple(out)


def interval_rank(n: int, m: int, alpha: float) -> tuple[int, float] | None:
    """The rank k (1-based) of the exact two-sided interval [D(k), D(nm+1-k)] over the
    n*m ordered differences, and its achieved confidence; None when even the widest
    interval (k = 1) is not confident enough with so few runs."""
    counts = _u_counts(n, m)
    total = sum(counts)
    tail = 0
    best: tuple[int, float] | None = None
    for k in range(1, n * m // 2 + 1):
        tail += counts[k - 1]  # P(U <= k-1) * total
        if 2 * tail > alpha * total:
            break
        best = (k, 1.0 - 2.0 * tail / total)
    return best


def min_runs(alpha: float) -> int:
    """The fewest runs a side with which the exact interval can reach 1 - alpha."""
    n = 2
    while interval_rank(n, n, alpha) is None and n < 50:
        n += 1
    return n


@dataclass(frozen=True)
class Shift:
    """A log-scale shift, candidate over baseline, and its exact interval (None: none)."""

    estimate: float
    low: float | None
    high: float | None
    achieved_confidence: float | None


def log_shift(baseline: Sequence[float], candidate: Sequence[float], alpha: float) -> Shift:
    """Hodges-Lehmann estimate of log(candidate) - log(baseline) and its exact interval."""
    lb = [math.log(v) for v in baseline]
    lc = [math.log(v) for v in candidate]
    diffs = sorted(c - b for b in lb for c in lc)
    estimate = statistics.median(diffs)
    rank = interval_rank(len(lb), len(lc), alpha)
    if rank is None:
        return Shift(estimate, None, None, None)
    k, achieved = rank
    return Shift(estimate, diffs[k - 1], diffs[len(diffs) - k], achieved)


def _pct(log_value: float) -> float:
    return 100.0 * math.expm1(log_value)


def _log(percent: float) -> float:
    return math.log1p(percent / 100.0)


def runs_needed(
    baseline: Sequence[float], candidate: Sequence[float], shift: Shift, alpha: float, delta: float
) -> int:
    """Runs a side that would likely settle it: an interval narrow enough to exclude zero
    (at the shift seen) or to fit within +-delta (normal approximation of its width)."""
    lb = [math.log(v) for v in baseline]
    lc = [math.log(v) for v in candidate]
    sd = math.sqrt((statistics.variance(lb) + statistics.variance(lc)) / 2.0)
    floor = min_runs(alpha)
    if sd == 0:
        return floor
    z = statistics.NormalDist().inv_cdf(1.0 - alpha / 2.0)
    widths = [abs(shift.estimate), _log(delta) - abs(shift.estimate)]
    needed = [math.ceil(2.0 * (z * sd / w) ** 2) + 1 for w in widths if w > 1e-12]
    return max(floor, min([*needed, MAX_RUNS_NEEDED]))


# ---------------------------------------------------------------- one metric, all metrics


@dataclass(frozen=True)
class MetricResult:
    """One metric's comparison; percentages are of the metric's own value."""

    name: str
    verdict: str
    change_percent: float
    ci_percent: tuple[float, float] | None
    baseline: tuple[float, ...]
    candidate: tuple[float, ...]
    gated: bool
    limit_percent: float | None
    beyond_limit: bool
    runs_needed: int | None
    achieved_confidence: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "change_percent": round(self.change_percent, 2),
            "ci_percent": [round(x, 2) for x in self.ci_percent] if self.ci_percent else None,
            "baseline": list(self.baseline),
            "candidate": list(self.candidate),
            "higher_is_better": METRICS[self.name][1],
            "gated": self.gated,
            "limit_percent": self.limit_percent,
            "beyond_limit": self.beyond_limit,
            "runs_needed": self.runs_needed,
            "achieved_confidence": (
                round(self.achieved_confidence, 4) if self.achieved_confidence else None
            ),
        }


def compare_metric(
    name: str,
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    alpha: float,
    delta_percent: float,
    gate: Gate | None = None,
) -> MetricResult:
    """One metric's verdict from its per-run values (all > 0)."""
    higher_is_better = METRICS[name][1]
    shift = log_shift(baseline, candidate, alpha)
    ci = None if shift.low is None or shift.high is None else (shift.low, shift.high)
    delta = _log(delta_percent)
    if ci is None:
        verdict = "inconclusive"
    elif -delta <= ci[0] and ci[1] <= delta:
        verdict = "unchanged"
    elif ci[0] > 0 or ci[1] < 0:
        up = ci[0] > 0
        verdict = "faster" if up == higher_is_better else "slower"
    else:
        verdict = "inconclusive"
    beyond = False
    if gate is not None and verdict == "slower" and ci is not None:
        # The confident part of the regression: the interval's end nearest zero.
        regression = _pct(ci[0]) if ci[0] > 0 else -_pct(ci[1])
        beyond = regression > gate.limit_percent
    needed = (
        runs_needed(baseline, candidate, shift, alpha, delta_percent)
        if verdict == "inconclusive"
        else None
    )
    return MetricResult(
        name=name,
        verdict=verdict,
        change_percent=_pct(shift.estimate),
        ci_percent=(_pct(ci[0]), _pct(ci[1])) if ci else None,
        baseline=tuple(baseline),
        candidate=tuple(candidate),
        gated=gate is not None,
        limit_percent=gate.limit_percent if gate else None,
        beyond_limit=beyond,
        runs_needed=needed,
        achieved_confidence=shift.achieved_confidence,
    )


@dataclass(frozen=True)
class Comparison:
    """Every metric's comparison and the top verdict; `failed` means a confident
    regression of a gated metric beyond its limit (the only case a gate fails)."""

    verdict: str
    failed: bool
    reason: str
    metrics: dict[str, MetricResult]
    confidence: float
    delta_percent: float
    runs: tuple[int, int]
    invalid_runs: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "failed": self.failed,
            "reason": self.reason,
            "confidence": self.confidence,
            "delta_percent": self.delta_percent,
            "runs": {"baseline": self.runs[0], "candidate": self.runs[1]},
            "invalid_runs": list(self.invalid_runs),
            "notes": list(self.notes),
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
        }


def _values(summaries: Sequence[Summary], name: str) -> list[float] | None:
    values = [s.get(name) for s in summaries]
    if not values or not all(isinstance(v, int | float) and v > 0 for v in values):
        return None
    return [float(v) for v in values if v is not None]


def too_few(name: str, summaries: Sequence[Summary]) -> list[int]:
    """The runs' successful-response counts when any is too small for the percentile
    `name` (MIN_OK_FOR) to be estimated; [] when every run has enough (or a summary
    saved before counts were kept does not say)."""
    need = MIN_OK_FOR.get(name)
    counts = [s["ok"] for s in summaries if isinstance(s.get("ok"), int)]
    if need is None or not any(0 < n < need for n in counts):
        return []
    return counts


def _too_few_note(name: str, counts: Sequence[int]) -> str:
    return (
        f"{name} not compared: it needs at least {MIN_OK_FOR[name]} successful responses a "
        f"run to be more than the run's slowest one, and runs had {min(counts)}-"
        f"{max(counts)}: run longer or at a higher rate, or gate on another figure"
    )


def _invalid(label: str, summaries: Sequence[Summary]) -> list[str]:
    return [
        f"{label} run {i + 1}: self-check {s.get('accuracy')}"
        + (f" ({s['accuracy_reason']})" if s.get("accuracy_reason") else "")
        for i, s in enumerate(summaries)
        if s.get("accuracy", "valid") != "valid"
    ]


def compare(
    baseline: Sequence[Summary],
    candidate: Sequence[Summary],
    gates: Sequence[Gate] = (),
    *,
    delta_percent: float = DEFAULT_DELTA_PERCENT,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Comparison:
    """Compare per-run summaries (`run_summary`) of a baseline and a candidate."""
    gates = tuple(gates) or parse_gates(DEFAULT_GATES)
    by_metric = {g.metric: g for g in gates}
    alpha = (1.0 - confidence) / len(by_metric)
    metrics: dict[str, MetricResult] = {}
    notes: list[str] = []
    for name in METRICS:
        counts = too_few(name, [*baseline, *candidate])
        if counts:
            notes.append(_too_few_note(name, counts))
            continue
        b, c = _values(baseline, name), _values(candidate, name)
        if b is None or c is None or len(b) < 2 or len(c) < 2:
            continue
        metrics[name] = compare_metric(
            name, b, c, alpha=alpha, delta_percent=delta_percent, gate=by_metric.get(name)
        )
    invalid = tuple(_invalid("baseline", baseline) + _invalid("candidate", candidate))
    verdict, reason = _top_verdict(
        metrics, by_metric, invalid, (len(baseline), len(candidate)), notes
    )
    failed = verdict == "slower" and any(m.beyond_limit for m in metrics.values())
    return Comparison(
        verdict=verdict,
        failed=failed,
        reason=reason,
        metrics=metrics,
        confidence=confidence,
        delta_percent=delta_percent,
        runs=(len(baseline), len(candidate)),
        invalid_runs=invalid,
        notes=tuple(notes),
    )


def _top_verdict(
    metrics: Mapping[str, MetricResult],
    gates: Mapping[str, Gate],
    invalid: Sequence[str],
    runs: tuple[int, int],
    notes: Sequence[str] = (),
) -> tuple[str, str]:
    if invalid:
        return "inconclusive", (
            "a run measured the load generator, not the server ("
            + "; ".join(invalid)
            + "): rerun with less load or more generator processes"
        )
    slower = [metrics[g] for g in gates if g in metrics and metrics[g].verdict == "slower"]
    if slower:  # a gated figure confidently slower is news, whatever others lack
        return "slower", "; ".join(describe(m) for m in slower)
    missing = [g for g in gates if g not in metrics]
    unestimated = [n for n in notes if n.split(" ", 1)[0] in missing]
    if unestimated:
        return "inconclusive", "; ".join(unestimated)
    if missing:
        return "inconclusive", (
            f"no figures for {', '.join(missing)} in every run (it takes at least 2 runs "
            f"a side, each with successful requests; got {runs[0]} and {runs[1]}): repeat "
            "each side's run, 5 times or more"
        )
    gated = [metrics[g] for g in gates]
    for verdict in ("slower", "inconclusive", "faster"):
        hits = [m for m in gated if m.verdict == verdict]
        if hits:
            return verdict, "; ".join(describe(m) for m in hits)
    return "unchanged", "every gated metric is within the margin"


# ---------------------------------------------------------------- words, tables


def describe(m: MetricResult) -> str:
    """One metric's verdict in words: 'p99 slower by 31.2 % (95 % CI 24.0 .. 40.1 %)'."""
    ci = (
        f" (interval {m.ci_percent[0]:+.1f} .. {m.ci_percent[1]:+.1f} %)"
        if m.ci_percent
        else " (no interval: too few runs for the confidence asked)"
    )
    if m.verdict in ("slower", "faster"):
        size = abs(m.change_percent)
        text = f"{m.name} {m.verdict} by {size:.1f} %{ci}"
        if m.beyond_limit:
            text += f", beyond the {m.limit_percent:g} % allowed"
        return text
    if m.verdict == "unchanged":
        return f"{m.name} unchanged: {m.change_percent:+.1f} %{ci}"
    return (
        f"{m.name} inconclusive: {m.change_percent:+.1f} %{ci}; about {m.runs_needed} runs "
        "a side would settle it"
    )


def text_lines(c: Comparison) -> list[str]:
    """The comparison for a terminal: the verdict, then one line per metric."""
    lines = [
        f"verdict: {c.verdict}"
        + (" (FAILED: a confident regression beyond the limit)" if c.failed else ""),
        f"  {c.reason}",
        f"  runs: baseline {c.runs[0]}, candidate {c.runs[1]}; confidence {c.confidence:.0%} "
        f"over the gated metrics; unchanged within +-{c.delta_percent:g} %",
    ]
    for m in c.metrics.values():
        gate = f" [gate {m.limit_percent:g} %]" if m.gated else ""
        lines.append(f"  {describe(m)}{gate}")
    lines += [f"  {note}" for note in c.notes]
    return lines


def markdown(c: Comparison | Mapping[str, Any], title: str = "mcpperf comparison") -> str:
    """A GitHub-flavoured markdown table of a comparison (or of its `to_dict()` form, as
    a report holds it), for $GITHUB_STEP_SUMMARY."""
    d = c.to_dict() if isinstance(c, Comparison) else c
    head = f"### {title}: **{d['verdict']}**" + (" (gate failed)" if d["failed"] else "")
    rows = [
        head,
        "",
        str(d["reason"]),
        "",
        "| metric | verdict | change | interval | baseline median | candidate median | gate |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, m in d["metrics"].items():
        unit = METRICS[name][2]
        ci = m["ci_percent"]
        interval = f"{ci[0]:+.1f} .. {ci[1]:+.1f} %" if ci else "-"
        verdict = m["verdict"]
        if verdict == "inconclusive":
            verdict += f" (~{m['runs_needed']} runs a side)"
        gate = "-"
        if m["gated"]:
            gate = f"{m['limit_percent']:g} %" + (" **exceeded**" if m["beyond_limit"] else "")
        rows.append(
            f"| {name} | {verdict} | {m['change_percent']:+.1f} % | {interval} | "
            f"{statistics.median(m['baseline']):.3g} {unit} | "
            f"{statistics.median(m['candidate']):.3g} {unit} | {gate} |"
        )
    runs = d["runs"]
    rows += [
        "",
        f"{runs['baseline']} baseline and {runs['candidate']} candidate runs; "
        f"{d['confidence']:.0%} confidence over the gated metrics; unchanged means within "
        f"+-{d['delta_percent']:g} %.",
        *(f"\n{note}." for note in d.get("notes", ())),
    ]
    return "\n".join(rows) + "\n"


# ---------------------------------------------------------------- calibration (A/A)


def detectable_change(
    runs: Sequence[Summary],
    runs_a_side: int,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    gates: int = 1,
    power: float = 0.8,
) -> dict[str, dict[str, Any]]:
    """From A/A runs of one server: each metric's run-to-run noise (CV, %) and the
    smallest change `runs_a_side` runs a side would detect with `power` (normal
    approximation; None where the exact interval cannot reach the confidence)."""
    alpha = (1.0 - confidence) / max(gates, 1)
    reachable = interval_rank(runs_a_side, runs_a_side, alpha) is not None
    z = statistics.NormalDist().inv_cdf(1.0 - alpha / 2.0) + statistics.NormalDist().inv_cdf(power)
    out: dict[str, dict[str, Any]] = {}
    for name in METRICS:
        values = _values(runs, name)
        if values is None or len(values) < 3:
            continue
        sd = statistics.stdev(math.log(v) for v in values)
        mde = _pct(z * sd * math.sqrt(2.0 / runs_a_side)) if reachable else None
        out[name] = {
            "noise_cv_percent": round(_pct(sd), 2),
            "detectable_percent": round(mde, 1) if mde is not None else None,
        }
    return out


__all__ = [
    "DEFAULT_GATES",
    "METRICS",
    "Comparison",
    "Gate",
    "MetricResult",
    "compare",
    "detectable_change",
    "interval_rank",
    "log_shift",
    "markdown",
    "parse_gates",
    "run_summary",
    "spread",
    "summaries_of",
    "text_lines",
    "with_repeats",
]
