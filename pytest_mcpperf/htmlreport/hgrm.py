"""HdrHistogram's percentile distribution text (`.hgrm`), written and read back.

The format is the one HdrHistogram's `outputPercentileDistribution` prints and its
plotter (and other tools) read: a header line, one line per percentile step with
`Value Percentile TotalCount 1/(1-Percentile)`, and a `#[Mean ...]` footer. Values are
written in milliseconds (the histograms record microseconds).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from pytest_mcpperf.engine import stats

US_PER_MS = 1000.0


def write(h: HdrHistogram, ticks_per_half_distance: int = 5, scale: float = US_PER_MS) -> str:
    """The `.hgrm` text of `h`, values divided by `scale` (ms for a µs histogram)."""
    digits = int(h.significant_figures)
    lines = [f"{'Value':>12} {'Percentile':>14} {'TotalCount':>10} {'1/(1-Percentile)':>14}", ""]
    total = int(h.get_total_count())
    if total:
        cumulative = list(itertools.accumulate(int(c) for c in h.counts))
        for percent in _levels(h, ticks_per_half_distance):
            # each value as `get_value_at_percentile` (and so the report's own p50 / p99)
            # gives it, the count as the values at or below it
            level = percent / 100.0
            value_us = h.get_value_at_percentile(percent)
            count = cumulative[h.get_counts_array_index(value_us)]
            line = f"{value_us / scale:12.{digits}f} {level:14.12f} {count:10d}"
            if level < 1.0:
                line += f" {1.0 / (1.0 - level):14.2f}"
            lines.append(line)
    mean = stats.mean_us(h) / scale
    std = _stddev_us(h) / scale
    lines.append(f"#[Mean    = {mean:12.{digits}f}, StdDeviation   = {std:12.{digits}f}]")
    lines.append(
        f"#[Max     = {h.get_max_value() / scale:12.{digits}f}, Total count    = {total:12d}]"
    )
    lines.append(f"#[Buckets = {h.bucket_count:12d}, SubBuckets     = {h.sub_bucket_count:12d}]")
    return "\n".join(lines) + "\n"


#: The report's own percentiles, always lines of the file (HDR's steps may miss them).
REPORT_LEVELS = (50.0, 90.0, 99.0, 99.9, 99.99, 99.999)


def _levels(h: HdrHistogram, ticks_per_half_distance: int) -> list[float]:
    """HDR's percentile steps (denser toward 100) with `REPORT_LEVELS` added, in order."""
    steps = [
        s.percentile_level_iterated_to for s in h.get_percentile_iterator(ticks_per_half_distance)
    ]
    top = max(steps)
    return sorted({*steps, *(p for p in REPORT_LEVELS if p < top)})


def _stddev_us(h: HdrHistogram) -> float:
    total = int(h.get_total_count())
    if not total:
        return 0.0
    mean = stats.mean_us(h)
    acc = 0.0
    for index, count in enumerate(h.counts):
        if count:
            value = h._hdr_median_equiv_value(h.get_value_from_index(index))
            acc += count * (value - mean) ** 2
    return math.sqrt(acc / total)


@dataclass(frozen=True)
class Step:
    """One line of a `.hgrm` file."""

    value: float
    percentile: float  # 0.0-1.0
    total_count: int


def read(text: str) -> list[Step]:
    """The percentile lines of a `.hgrm` text (header and footer skipped)."""
    steps: list[Step] = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or line.startswith("#") or fields[0] == "Value":
            continue
        try:
            steps.append(Step(float(fields[0]), float(fields[1]), int(fields[2])))
        except (ValueError, IndexError):
            raise ValueError(
                f"line {number} of the .hgrm text is not `Value Percentile TotalCount ...`: "
                f"{line!r}"
            ) from None
    return steps


def value_at(steps: list[Step], percentile: float) -> float:
    """The value at `percentile` (0-100) as the `.hgrm` lines give it: the first step
    whose percentile level reaches it."""
    level = percentile / 100.0
    for step in steps:
        if step.percentile >= level:
            return step.value
    raise ValueError(f"no line reaches p{percentile:g}; the histogram is empty")
