"""Server memory analysis: pure functions over (requests done, server RSS, time) samples.

The series comes from the *server's* process tree (`monitor.rss_bytes(pid)`), one sample
at time zero and one after each measured chunk of requests. The verdict is drawn from the
least-squares slope of RSS against requests, after warm-up, never from two points:

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

A run passes the seed's criteria when its verdict is neither ``leak`` nor
``insufficient`` and its growth stays under 10 %.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

KIB = 1024
MIB = 1024 * 1024

LEAK_BYTES_PER_REQUEST = 10 * KIB
MODERATE_BYTES_PER_REQUEST = 1 * KIB
NOISE_FLOOR_BYTES = 4 * MIB
GROWTH_LIMIT_PERCENT = 10.0

VERDICTS = ("stable", "moderate", "leak", "insufficient")
MIN_SAMPLES = 3


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

    @property
    def passed(self) -> bool:
        """The seed's criteria: no leak, a conclusive series, growth under 10 %."""
        return (self.verdict not in ("leak", "insufficient")
                and self.growth_percent < GROWTH_LIMIT_PERCENT)

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
    return MemoryAnalysis(
        verdict=verdict_for(per_request, growth_bytes, growth_percent),
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
        verdict="insufficient", bytes_per_request=0.0, slope_bytes_per_s=per_second or 0.0,
        growth_percent=0.0, growth_bytes=0.0, stability_percent=stab,
        stability_grade=stability_grade(stab), samples=len(used),
        requests=(used[-1].requests - used[0].requests) if used else 0,
        rss_start_bytes=rss[0] if rss else 0, rss_peak_bytes=max(rss) if rss else 0,
        rss_end_bytes=rss[-1] if rss else 0,
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


__all__ = [
    "GROWTH_LIMIT_PERCENT", "LEAK_BYTES_PER_REQUEST", "MIN_SAMPLES", "MODERATE_BYTES_PER_REQUEST",
    "NOISE_FLOOR_BYTES", "VERDICTS", "MemoryAnalysis", "MemorySample", "after_warmup",
    "analyze", "efficiency_requests_per_mb", "least_squares_slope", "per_request_rating",
    "stability_grade", "stability_percent", "verdict_for",
]
