"""Server memory: measuring it in chunks of requests, and one verdict for every front end.

The series comes from the *server's* process tree, in one of two ways:

- `measure` (the `mcpperf memory` command, the plugin's `memory_series` fixture): one
  sample at time zero and one after each measured chunk of requests, when nothing is in
  flight; `build_report` lays out the report.
- `samples_from_report` (`mcpperf client memory`, any run with a server pid): the RSS
  readings the server monitor took during one run, with the requests completed at each.

Either way `analyze` judges the series, so one series gets one verdict wherever it was
measured. The verdict is drawn from the least-squares slope of RSS against requests,
after warm-up, never from two points:

- ``bytes_per_request``: slope of RSS over requests completed (bytes retained per call).
- ``slope_bytes_per_s``: slope of RSS over time.
- ``growth_percent``: growth of the fitted line across the analysed window, relative to
  the fitted RSS at the window's start.
- ``stability_percent``: ``100 * (1 - stdev / mean)`` of the RSS values, i.e. dispersion
  around the *mean* (not around the last value), floored at 0.

Verdicts (thresholds follow the seed's reading of "memory per request": < 1 KB excellent,
< 10 KB good, more is poor; and its criterion of < 10 % growth):

- ``leak``: ``bytes_per_request >= LEAK_BYTES_PER_REQUEST`` (10 KiB) and the fitted growth
  over the window exceeds ``NOISE_FLOOR_BYTES`` (4 MiB, so allocator steps in a short run
  are not called leaks).
- ``moderate``: not a leak, but ``growth_percent >= GROWTH_LIMIT_PERCENT`` (10 %), or
  ``bytes_per_request >= MODERATE_BYTES_PER_REQUEST`` (1 KiB) above the noise floor.
- ``stable``: everything else.
- ``insufficient``: fewer than three post-warm-up samples, or all at one request count
  (a verdict is never drawn from two points).

The trend decides first, where the series is long enough (``TREND_MIN_SAMPLES``, six:
three per half): the series is cut in two halves by time and each half gets its own
slopes (``first_half`` / ``second_half``: bytes per request and per second).

- ``leak`` whenever RSS still rises steadily through the second half: its fitted rise is
  above ``TREND_NOISE_BYTES`` (2 MiB, allocator steps), the line explains most of its
  variation (R^2 >= ``TREND_MIN_R2``), and it rises at least ``PLATEAU_RATIO`` (half)
  as fast as in the first half. This holds whatever the bytes per request: a server
  that keeps 4 KiB per call leaks, however small 4 KiB is.
- A rise that flattens (second half below the noise, or under half the first half's
  slope) is growth with a plateau (``trend`` "plateau"): never ``leak``; ``moderate``
  when the growth passes 10 %, else ``stable``.
The report's ``reason`` says which rule decided.

A run passes the seed's criteria when its verdict is neither ``leak`` nor
``insufficient`` and its growth stays under 10 %.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_mcpperf.analysis.server import MeasuredServer, RunOne
from pytest_mcpperf.analysis.stress import Tally, combine, tally_from_requests
from pytest_mcpperf.errors import McpPerfError
from pytest_mcpperf.result import SCHEMA
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.vocabulary import ERROR_CLASSES, KIB, MEMORY_VERDICTS, MIB

LEAK_BYTES_PER_REQUEST = 10 * KIB
MODERATE_BYTES_PER_REQUEST = 1 * KIB
NOISE_FLOOR_BYTES = 4 * MIB
GROWTH_LIMIT_PERCENT = 10.0

VERDICTS = MEMORY_VERDICTS
MIN_SAMPLES = 3
TREND_MIN_SAMPLES = 6
TREND_NOISE_BYTES = 2 * MIB
TREND_MIN_R2 = 0.8
PLATEAU_RATIO = 0.5


@dataclass(frozen=True)
class MemorySample:
    """One reading: requests completed so far, the server's RSS, seconds since start."""

    requests: int
    rss_bytes: int
    t: float


@dataclass(frozen=True)
class MemoryAnalysis:
    """What the series says; `to_report()` gives the report's `memory` object."""

    verdict: str
    bytes_per_request: float
    slope_bytes_per_s: float
    growth_percent: float
    growth_bytes: float
    stability_percent: float
    stability_grade: str
    samples: int
    requests: int
    rss_start_bytes: int
    rss_peak_bytes: int
    rss_end_bytes: int
    trend: str = "unknown"  # rising | plateau | flat | unknown (too few samples)
    first_half: dict[str, float] = field(default_factory=dict)
    second_half: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    @property
    def passed(self) -> bool:
        """The seed's criteria: no leak, a conclusive series, growth under 10 %."""
        return (
            self.verdict not in ("leak", "insufficient")
            and self.growth_percent < GROWTH_LIMIT_PERCENT
        )

    def to_report(self) -> dict[str, Any]:
        out = asdict(self)
        out["passed"] = self.passed
        return out


def least_squares_slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Slope of the ordinary least-squares line through (xs, ys); None if undefined."""
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"xs has {n} values and ys {len(ys)}: pass one y for each x")
    if n < 2:
        return None
    mx = math.fsum(xs) / n
    my = math.fsum(ys) / n
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def stability_percent(values: Sequence[float]) -> float:
    """``100 * (1 - population stdev / mean)``, floored at 0; 100 for fewer than 2 values."""
    if len(values) < 2:
        return 100.0
    mean = math.fsum(values) / len(values)
    if mean <= 0:
        return 0.0
    var = math.fsum((v - mean) ** 2 for v in values) / len(values)
    return max(0.0, 100.0 * (1.0 - math.sqrt(var) / mean))


def stability_grade(percent: float) -> str:
    """The seed's memory stability grades: >= 90 / 80 / 70, else POOR."""
    if percent >= 90:
        return "EXCELLENT"
    if percent >= 80:
        return "GOOD"
    if percent >= 70:
        return "MODERATE"
    return "POOR"


def after_warmup(samples: Sequence[MemorySample], warmup_requests: int) -> list[MemorySample]:
    """Samples taken once at least `warmup_requests` requests were done, in order."""
    if warmup_requests < 0:
        raise ValueError(f"warmup_requests={warmup_requests} is negative: pass 0 or more")
    return [s for s in samples if s.requests >= warmup_requests]


def verdict_for(bytes_per_request: float, growth_bytes: float, growth_percent: float) -> str:
    """Classify a fitted series (see the module docstring for the thresholds)."""
    above_noise = growth_bytes >= NOISE_FLOOR_BYTES
    if bytes_per_request >= LEAK_BYTES_PER_REQUEST and above_noise:
        return "leak"
    if growth_percent >= GROWTH_LIMIT_PERCENT:
        return "moderate"
    if bytes_per_request >= MODERATE_BYTES_PER_REQUEST and above_noise:
        return "moderate"
    return "stable"


@dataclass(frozen=True)
class Half:
    """The fit of one half of the series."""

    bytes_per_request: float
    bytes_per_s: float
    rise_bytes: float
    r2: float

    def to_report(self) -> dict[str, float]:
        return {
            "bytes_per_request": round(self.bytes_per_request, 1),
            "bytes_per_s": round(self.bytes_per_s, 1),
            "rise_bytes": round(self.rise_bytes),
            "r2": round(self.r2, 3),
        }


def fit_half(used: Sequence[MemorySample]) -> Half:
    """Slopes over requests and time, the fitted rise across the half, and R^2 (of RSS
    against time, so a half with no completed requests still has a trend)."""
    ts = [s.t for s in used]
    ys = [float(s.rss_bytes) for s in used]
    per_s = least_squares_slope(ts, ys) or 0.0
    per_req = least_squares_slope([float(s.requests) for s in used], ys) or 0.0
    rise = per_s * (ts[-1] - ts[0])
    my = math.fsum(ys) / len(ys)
    total = math.fsum((y - my) ** 2 for y in ys)
    fitted = [_fitted_at(ts, ys, per_s, t) for t in ts]
    resid = math.fsum((y - f) ** 2 for y, f in zip(ys, fitted, strict=True))
    r2 = 1.0 - resid / total if total > 0 else 0.0
    return Half(per_req, per_s, rise, r2)


def trend_of(used: Sequence[MemorySample]) -> tuple[str, Half | None, Half | None, str]:
    """(trend, first half, second half, reason); trend "unknown" for a short series."""
    if len(used) < TREND_MIN_SAMPLES or used[-1].t <= used[0].t:
        return "unknown", None, None, ""
    mid_t = (used[0].t + used[-1].t) / 2
    first = [s for s in used if s.t <= mid_t]
    second = [s for s in used if s.t >= mid_t]
    if len(first) < MIN_SAMPLES or len(second) < MIN_SAMPLES:
        k = len(used) // 2
        first, second = list(used[: k + 1]), list(used[k:])
    a, b = fit_half(first), fit_half(second)
    mib = b.rise_bytes / MIB
    if (
        b.rise_bytes >= TREND_NOISE_BYTES
        and b.r2 >= TREND_MIN_R2
        and b.bytes_per_s >= PLATEAU_RATIO * max(a.bytes_per_s, 0.0)
    ):
        return (
            "rising",
            a,
            b,
            (
                f"RSS kept rising through the second half: +{mib:.1f} MiB at "
                f"{b.bytes_per_request:.0f} bytes/request (R^2 {b.r2:.2f}), "
                f"first half {a.bytes_per_request:.0f} bytes/request"
            ),
        )
    if a.rise_bytes >= TREND_NOISE_BYTES:
        return (
            "plateau",
            a,
            b,
            (
                f"RSS rose {a.rise_bytes / MIB:.1f} MiB in the first half, then flattened "
                f"({mib:+.1f} MiB in the second half): growth with a plateau, not a leak"
            ),
        )
    return (
        "flat",
        a,
        b,
        (
            f"RSS moved {a.rise_bytes / MIB:+.1f} / {mib:+.1f} MiB over the two halves, "
            f"within allocator noise ({TREND_NOISE_BYTES / MIB:g} MiB)"
        ),
    )


def analyze(samples: Sequence[MemorySample], *, warmup_requests: int = 0) -> MemoryAnalysis:
    """Fit RSS against requests and time over the samples after warm-up; classify."""
    used = after_warmup(samples, warmup_requests)
    xs = [float(s.requests) for s in used]
    ys = [float(s.rss_bytes) for s in used]
    per_request = least_squares_slope(xs, ys)
    per_second = least_squares_slope([s.t for s in used], ys)
    if per_request is None or len(used) < MIN_SAMPLES:
        return _insufficient(used, per_second)
    span = xs[-1] - xs[0]
    start = _fitted_at(xs, ys, per_request, xs[0])
    growth_bytes = per_request * span
    growth_percent = 100.0 * growth_bytes / start if start > 0 else 0.0
    stab = stability_percent(ys)
    verdict = verdict_for(per_request, growth_bytes, growth_percent)
    trend, first, second, reason = trend_of(used)
    if trend == "rising":
        verdict = "leak"
    elif trend in ("plateau", "flat") and verdict == "leak":
        verdict = "moderate"
        reason += f"; {per_request:.0f} bytes/request overall, but the rise stopped"
    elif trend == "unknown":
        reason = (
            f"{len(used)} samples, too few for a trend (need {TREND_MIN_SAMPLES}): judged "
            f"by {per_request:.0f} bytes/request and {growth_percent:.1f}% growth"
        )
    return MemoryAnalysis(
        verdict=verdict,
        trend=trend,
        first_half=first.to_report() if first else {},
        second_half=second.to_report() if second else {},
        reason=reason,
        bytes_per_request=per_request,
        slope_bytes_per_s=per_second or 0.0,
        growth_percent=growth_percent,
        growth_bytes=growth_bytes,
        stability_percent=stab,
        stability_grade=stability_grade(stab),
        samples=len(used),
        requests=int(span),
        rss_start_bytes=used[0].rss_bytes,
        rss_peak_bytes=max(s.rss_bytes for s in used),
        rss_end_bytes=used[-1].rss_bytes,
    )


def _fitted_at(xs: Sequence[float], ys: Sequence[float], slope: float, x: float) -> float:
    """The least-squares line (through the means) evaluated at x."""
    mx = math.fsum(xs) / len(xs)
    my = math.fsum(ys) / len(ys)
    return my + slope * (x - mx)


def _insufficient(used: Sequence[MemorySample], per_second: float | None) -> MemoryAnalysis:
    rss = [s.rss_bytes for s in used]
    stab = stability_percent([float(v) for v in rss])
    return MemoryAnalysis(
        verdict="insufficient",
        bytes_per_request=0.0,
        slope_bytes_per_s=per_second or 0.0,
        growth_percent=0.0,
        growth_bytes=0.0,
        stability_percent=stab,
        stability_grade=stability_grade(stab),
        samples=len(used),
        requests=(used[-1].requests - used[0].requests) if used else 0,
        rss_start_bytes=rss[0] if rss else 0,
        rss_peak_bytes=max(rss) if rss else 0,
        rss_end_bytes=rss[-1] if rss else 0,
        reason=f"{len(used)} samples after warm-up: too few for a verdict (need {MIN_SAMPLES})",
    )


def efficiency_requests_per_mb(bytes_per_request: float) -> float | None:
    """The seed's "Memory efficiency": requests per MiB retained; None when nothing is."""
    if bytes_per_request <= 0:
        return None
    return MIB / bytes_per_request


def per_request_rating(bytes_per_request: float) -> str:
    """The seed's reading of memory per request: < 1 KB excellent, < 10 KB good, else poor
    (the seed calls > 100 KB poor; here anything a leak verdict can start from is)."""
    if bytes_per_request < MODERATE_BYTES_PER_REQUEST:
        return "EXCELLENT"
    if bytes_per_request < LEAK_BYTES_PER_REQUEST:
        return "GOOD"
    return "POOR"


# -- the procedure: load in chunks, one RSS sample after each -------------------------

MAX_CHUNKS = 20
Snapshot = Callable[[str, Sequence[MemorySample]], None]


def split_evenly(total: int, pieces: int) -> list[int]:
    """`total` as `pieces` near-equal positive parts (fewer if total is small)."""
    pieces = max(1, min(pieces, total))
    q, r = divmod(total, pieces)
    return [q + (1 if i < r else 0) for i in range(pieces)]


@dataclass
class ChunkPlan:
    """The measured chunks: requests per chunk, and which chunk ends get a snapshot."""

    chunks: list[int]
    snapshot_after: set[int] = field(default_factory=set)
    labels: dict[int, str] = field(default_factory=dict)


def baseline_plan(requests: int) -> ChunkPlan:
    """`requests` in five chunks: enough points for a slope."""
    return ChunkPlan(split_evenly(requests, 5))


def leak_plan(requests: int) -> ChunkPlan:
    """`requests` in chunks of about 50 (2 to MAX_CHUNKS), a snapshot halfway."""
    chunks = split_evenly(requests, max(2, min(MAX_CHUNKS, requests // 50)))
    mid = len(chunks) // 2 - 1
    return ChunkPlan(chunks, {mid} if mid >= 0 else set())


def growth_plan(duration_s: float, interval_s: float, rate: float) -> ChunkPlan:
    """Chunks of at most duration/10 s that divide the interval; a snapshot per interval."""
    per_interval = math.ceil(interval_s / min(interval_s, duration_s / 10) - 1e-9)
    step = interval_s / per_interval
    n = max(1, round(duration_s / step))
    plan = ChunkPlan([max(1, round(rate * step))] * n)
    for i in range(per_interval - 1, n - 1, per_interval):
        plan.snapshot_after.add(i)
        plan.labels[i] = f"T+{(i + 1) * step:g}s"
    return plan


@dataclass
class Measurement:
    """What a memory run collected: RSS samples and the request tallies of each chunk."""

    samples: list[MemorySample] = field(default_factory=list)
    tallies: list[Tally] = field(default_factory=list)
    server_alive: bool = True


def chunk_spec(base: LoadSpec, requests: int) -> LoadSpec:
    """`requests` requests of `base` at its rate, without warm-up."""
    return base.replace(duration_s=requests / base.rate, warmup_s=0.0)


def measure(
    server: MeasuredServer,
    base: LoadSpec,
    plan: ChunkPlan,
    run: RunOne,
    warmup: int,
    clock: Callable[[], float],
    snapshot: Snapshot | None = None,
) -> Measurement:
    """Warm up, sample at time zero, then one chunk of load and one RSS sample per chunk.

    `snapshot(label, samples)` is called with the samples so far at time zero, after
    each chunk the plan marks, and at the end. A server that dies under the load ends
    the measurement with `server_alive` False (a result); an engine error while the
    server lives is raised.
    """
    show = snapshot or (lambda _label, _samples: None)
    if warmup > 0:
        run(chunk_spec(base, warmup))
    m = Measurement()
    t0 = clock()
    done = 0
    m.samples.append(MemorySample(0, server.rss(), 0.0))
    show("Initial", m.samples)
    for i, n in enumerate(plan.chunks):
        try:
            result = run(chunk_spec(base, n))
        except McpPerfError:
            if server.alive():
                raise
            m.server_alive = False  # died under the load: a result, reported as such
            break
        tally = tally_from_requests(result.to_dict().get("requests", {}))
        m.tallies.append(tally)
        done += tally.completed or (tally.ok + tally.failed)
        if not server.alive():
            m.server_alive = False
            break
        m.samples.append(MemorySample(done, server.rss(), clock() - t0))
        if i in plan.snapshot_after:
            show(plan.labels.get(i, f"After {done} requests"), m.samples)
    show("Final", m.samples)
    return m


def build_report(
    scenario: str,
    server: MeasuredServer,
    base: LoadSpec,
    m: Measurement,
    a: MemoryAnalysis,
    warmup_requests: int,
) -> dict[str, Any]:
    """The report of a chunked memory run: requests, server RSS, `memory`, the samples."""
    total = combine(m.tallies)
    rss = [s.rss_bytes for s in m.samples]
    return {
        "schema": SCHEMA,
        "scenario": scenario,
        "pattern": base.pattern,
        "target": {"url": server.url, "pid": server.pid},
        "config": {
            **base.config_dict(),
            "warmup_requests": warmup_requests,
            "chunks": len(m.tallies),
        },
        "requests": {
            "scheduled": total.scheduled,
            "sent": total.sent,
            "completed": total.completed,
            "ok": total.ok,
            "failed": total.failed,
            "errors": {k: getattr(total, k) for k in ERROR_CLASSES},
        },
        "server": {
            "rss_mb": {
                "start": round(rss[0] / MIB, 3),
                "peak": round(max(rss) / MIB, 3),
                "end": round(rss[-1] / MIB, 3),
            },
            "growth_percent": round(a.growth_percent, 3),
            "samples": len(rss),
            "alive": m.server_alive,
        },
        "memory": a.to_report(),
        "memory_samples": [
            {"requests": s.requests, "rss_bytes": s.rss_bytes, "t": round(s.t, 4)}
            for s in m.samples
        ],
    }


# -- a run report's own RSS series --------------------------------------------------


def samples_from_report(report: Mapping[str, Any]) -> list[MemorySample]:
    """The server monitor's readings of one run (`server.series`) as MemorySamples.

    Each reading has `t`, seconds since the monitor started (just before the generator),
    and `rss_bytes`. The requests completed by then are not counted at the reading, so
    they are estimated from the run's per-second `timeseries` (completions, by the second
    of the measured window they completed in): exact at whole seconds, linear within a
    second, so off by at most one second's completions. The measured window starts
    `config.warmup_s` after the monitor (the generator's start-up, milliseconds
    in-process, is not counted). A report without a timeseries spreads its completed
    requests evenly over `duration_s`. Empty when the report has no series.
    """
    server = report.get("server") or {}
    series = server.get("series") or []
    if not series:
        return []
    offset_s = float((report.get("config") or {}).get("warmup_s", 0.0) or 0.0)
    done_by = completions(report)
    return [
        MemorySample(round(done_by(float(r["t"]) - offset_s)), int(r["rss_bytes"]), float(r["t"]))
        for r in series
    ]


def analyze_run(report: Mapping[str, Any]) -> MemoryAnalysis | None:
    """The memory verdict of one load run, from the server monitor's readings in its
    measured window (readings during `config.warmup_s` are left out, as the warm-up's
    requests are); None when the report has no readings (the server's pid was unknown)."""
    samples = samples_from_report(report)
    if not samples:
        return None
    offset_s = float((report.get("config") or {}).get("warmup_s", 0.0) or 0.0)
    measured = [s for s in samples if s.t >= offset_s] if offset_s > 0 else samples
    return analyze(measured)


def completions(report: Mapping[str, Any]) -> Callable[[float], float]:
    """Requests completed `t` seconds into the measured window, from the report's rows."""
    rows = report.get("timeseries") or []
    if rows:
        ends = [0.0]
        totals = [0.0]
        for row in rows:
            ends.append(float(row["t"]) + 1.0)
            totals.append(totals[-1] + int(row.get("ok", 0)) + int(row.get("failed", 0)))
    else:
        req = report.get("requests") or {}
        done = float(req.get("completed", 0) or (req.get("ok", 0) + req.get("failed", 0)))
        ends = [0.0, float(report.get("duration_s", 0.0) or 0.0) or 1.0]
        totals = [0.0, done]

    def at(t: float) -> float:
        if t <= ends[0]:
            return totals[0]
        if t >= ends[-1]:
            return totals[-1]
        k = bisect.bisect_right(ends, t)
        t0, t1 = ends[k - 1], ends[k]
        return totals[k - 1] + (totals[k] - totals[k - 1]) * (t - t0) / (t1 - t0)

    return at


__all__ = [
    "GROWTH_LIMIT_PERCENT",
    "LEAK_BYTES_PER_REQUEST",
    "MAX_CHUNKS",
    "MIN_SAMPLES",
    "MODERATE_BYTES_PER_REQUEST",
    "NOISE_FLOOR_BYTES",
    "PLATEAU_RATIO",
    "TREND_MIN_R2",
    "TREND_MIN_SAMPLES",
    "TREND_NOISE_BYTES",
    "VERDICTS",
    "ChunkPlan",
    "Half",
    "Measurement",
    "MemoryAnalysis",
    "MemorySample",
    "after_warmup",
    "analyze",
    "analyze_run",
    "baseline_plan",
    "build_report",
    "chunk_spec",
    "completions",
    "efficiency_requests_per_mb",
    "fit_half",
    "growth_plan",
    "leak_plan",
    "least_squares_slope",
    "measure",
    "per_request_rating",
    "samples_from_report",
    "split_evenly",
    "stability_grade",
    "stability_percent",
    "trend_of",
    "verdict_for",
]
