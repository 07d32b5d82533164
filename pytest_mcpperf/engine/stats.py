"""Recording: HDR histograms, error counters and a per-second series; exact merge.

Values are microseconds. The hot path only appends integers to per-tool buffers;
`Recorder.roll()` (about once a second) folds them into the histograms with one
`record_value(value, count)` per distinct value. Everything a generator process
measured travels as `RunStats.to_wire()` (plain JSON types, histograms in HDR's
compressed base64 encoding), and `RunStats.merge()` adds counts exactly: percentiles
are computed from merged histograms, never averaged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from hdrh.histogram import HdrHistogram

from pytest_mcpperf.result import ErrorCounts, Percentiles
from pytest_mcpperf.vocabulary import CLASS_NAMES

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
DIGITS = 3
SERIES_DIGITS = 2
ERROR_CLASSES = CLASS_NAMES[1:]


def new_histogram(digits: int = DIGITS) -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, digits)


def encode(h: HdrHistogram) -> str:
    return str(h.encode().decode("ascii"))


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))


def merge_into(target: HdrHistogram, other: HdrHistogram) -> None:
    if other.get_total_count():
        target.add(other)


def mean_us(h: HdrHistogram) -> float:
    """HDR's mean (median-equivalent value of each bucket), by one pass over the counts.

    `HdrHistogram.get_mean_value()` walks a Python iterator and costs ~100x more.
    """
    total = int(h.get_total_count())
    if not total:
        return 0.0
    acc: int = 0
    for index, count in enumerate(h.counts):
        if count:
            acc += count * h._hdr_median_equiv_value(h.get_value_from_index(index))
    return float(acc) / total


PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))


def summary_ms(h: HdrHistogram) -> Percentiles:
    """{min, mean, p50, p90, p99, p999, max} in milliseconds (zeros when empty)."""
    if not h.get_total_count():
        return cast(
            Percentiles, dict.fromkeys(("min", "mean", "p50", "p90", "p99", "p999", "max"), 0.0)
        )
    out = {"min": h.get_min_value() / 1000.0, "mean": round(mean_us(h) / 1000.0, 3)}
    for name, pct in PERCENTILES:
        out[name] = h.get_value_at_percentile(pct) / 1000.0
    out["max"] = h.get_max_value() / 1000.0
    return cast(Percentiles, out)


@dataclass
class ToolStats:
    """Histograms and counts of one tool."""

    latency: HdrHistogram = field(default_factory=new_histogram)
    service: HdrHistogram = field(default_factory=new_histogram)
    ok: int = 0
    failed: int = 0


@dataclass
class SecondRow:
    """One second of the run (by completion time; `sent` by send time).

    `errors` holds the second's failures by class and code, so that a chart can show
    which errors came when; the run's totals stay in `RunStats.errors`.

    The second's latency and service-time histograms are live while the second is
    being recorded; `pack()` keeps a closed second in HDR's compressed form instead
    (a few hundred bytes against about 54 KiB live, so a one-hour soak keeps ~2 MB of
    rows, not ~190 MB). `latency` and `service` read either form; `live()` gives the
    mutable pair, unpacking first.
    """

    t: int
    sent: int = 0
    ok: int = 0
    failed: int = 0
    errors: dict[str, dict[str, int]] = field(default_factory=dict)
    _live: tuple[HdrHistogram, HdrHistogram] | None = field(default=None, repr=False)
    _packed: tuple[str, str] | None = field(default=None, repr=False)

    def live(self) -> tuple[HdrHistogram, HdrHistogram]:
        """The (latency, service) histograms to record into."""
        if self._live is None:
            if self._packed is not None:
                self._live = (decode(self._packed[0]), decode(self._packed[1]))
                self._packed = None
            else:
                self._live = (new_histogram(SERIES_DIGITS), new_histogram(SERIES_DIGITS))
        return self._live

    def pack(self) -> None:
        """Keep this (closed) second compressed; reading it still works."""
        if self._live is not None:
            self._packed = (encode(self._live[0]), encode(self._live[1]))
            self._live = None

    def encoded(self) -> tuple[str, str]:
        """The (latency, service) histograms in HDR's wire form."""
        if self._packed is not None:
            return self._packed
        lat, svc = self.live()
        return encode(lat), encode(svc)

    @classmethod
    def from_encoded(cls, t: int, latency: str, service: str) -> SecondRow:
        return cls(t, _packed=(latency, service))

    def _read(self, which: int) -> HdrHistogram:
        if self._live is not None:
            return self._live[which]
        if self._packed is not None:
            return decode(self._packed[which])
        return new_histogram(SERIES_DIGITS)

    @property
    def latency(self) -> HdrHistogram:
        """The second's latency histogram (a decoded copy when packed: read only)."""
        return self._read(0)

    @property
    def service(self) -> HdrHistogram:
        """The second's service-time histogram (a decoded copy when packed: read only)."""
        return self._read(1)

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"t": self.t, "sent": self.sent, "ok": self.ok}
        row["failed"] = self.failed
        lat, svc = self.latency, self.service
        row["p99_ms"] = _pct_ms(lat, 99.0)
        row["p50_ms"] = _pct_ms(lat, 50.0)
        row["p90_ms"] = _pct_ms(lat, 90.0)
        row["max_ms"] = lat.get_max_value() / 1000.0 if self.ok else 0.0
        row["service_p50_ms"] = _pct_ms(svc, 50.0)
        row["service_p99_ms"] = _pct_ms(svc, 99.0)
        if self.errors:
            row["errors"] = {c: dict(codes) for c, codes in self.errors.items()}
        return row


def _pct_ms(h: HdrHistogram, pct: float) -> float:
    return h.get_value_at_percentile(pct) / 1000.0 if h.get_total_count() else 0.0


def add_errors(target: dict[str, dict[str, int]], other: dict[str, dict[str, int]]) -> None:
    """Add error counts by class and code into `target`."""
    for cls, codes in other.items():
        mine = target.setdefault(cls, {})
        for code, n in codes.items():
            mine[code] = mine.get(code, 0) + n


@dataclass
class RunStats:
    """Everything measured by one generator (or merged from several)."""

    tools: dict[str, ToolStats] = field(default_factory=dict)
    errors: dict[str, dict[str, int]] = field(
        default_factory=lambda: {c: {} for c in ERROR_CLASSES}
    )
    scheduled: int = 0
    sent: int = 0
    series: list[SecondRow] = field(default_factory=list)
    reinits: int = 0
    connections_opened: int = 0

    @property
    def ok(self) -> int:
        return sum(t.ok for t in self.tools.values())

    @property
    def failed(self) -> int:
        return sum(t.failed for t in self.tools.values())

    def tool(self, name: str) -> ToolStats:
        ts = self.tools.get(name)
        if ts is None:
            ts = self.tools[name] = ToolStats()
        return ts

    def row(self, t: int) -> SecondRow:
        while len(self.series) <= t:
            self.series.append(SecondRow(len(self.series)))
        return self.series[t]

    def total(self, which: str) -> HdrHistogram:
        """All tools' `latency` or `service` histograms merged."""
        if len(self.tools) == 1:
            only: HdrHistogram = getattr(next(iter(self.tools.values())), which)
            return only
        h = new_histogram()
        for ts in self.tools.values():
            merge_into(h, getattr(ts, which))
        return h

    def error_counts(self) -> ErrorCounts:
        counts = {c: sum(self.errors.get(c, {}).values()) for c in ERROR_CLASSES}
        return cast(ErrorCounts, counts)

    def merge(self, other: RunStats) -> None:
        """Add another generator's counts and histograms (exact)."""
        for name, ts in other.tools.items():
            mine = self.tool(name)
            merge_into(mine.latency, ts.latency)
            merge_into(mine.service, ts.service)
            mine.ok += ts.ok
            mine.failed += ts.failed
        for cls, codes in other.errors.items():
            target = self.errors.setdefault(cls, {})
            for code, n in codes.items():
                target[code] = target.get(code, 0) + n
        self.scheduled += other.scheduled
        self.sent += other.sent
        self.reinits += other.reinits
        self.connections_opened += other.connections_opened
        for row in other.series:
            mine_row = self.row(row.t)
            mine_row.sent += row.sent
            mine_row.ok += row.ok
            mine_row.failed += row.failed
            lat, svc = mine_row.live()
            merge_into(lat, row.latency)
            merge_into(svc, row.service)
            mine_row.pack()
            add_errors(mine_row.errors, row.errors)

    def to_wire(self) -> dict[str, Any]:
        return {
            "tools": {
                n: {
                    "latency": encode(t.latency),
                    "service": encode(t.service),
                    "ok": t.ok,
                    "failed": t.failed,
                }
                for n, t in self.tools.items()
            },
            "errors": {c: dict(v) for c, v in self.errors.items()},
            "scheduled": self.scheduled,
            "sent": self.sent,
            "reinits": self.reinits,
            "connections_opened": self.connections_opened,
            "series": [
                {
                    "t": r.t,
                    "sent": r.sent,
                    "ok": r.ok,
                    "failed": r.failed,
                    "latency": enc[0],
                    "service": enc[1],
                    "errors": r.errors,
                }
                for r in self.series
                for enc in (r.encoded(),)
            ],
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> RunStats:
        out = cls(
            scheduled=data["scheduled"],
            sent=data["sent"],
            reinits=data["reinits"],
            connections_opened=data["connections_opened"],
        )
        out.errors = {c: dict(v) for c, v in data["errors"].items()}
        for n, t in data["tools"].items():
            out.tools[n] = ToolStats(
                decode(t["latency"]), decode(t["service"]), t["ok"], t["failed"]
            )
        for r in data["series"]:
            row = SecondRow.from_encoded(r["t"], r["latency"], r["service"])
            row.sent, row.ok, row.failed = r["sent"], r["ok"], r["failed"]
            row.errors = {c: dict(codes) for c, codes in r["errors"].items()}
            out.series.append(row)
        return out


def merged(parts: Iterable[RunStats]) -> RunStats:
    """One RunStats holding all parts' counts (a single part is returned as is)."""
    items = list(parts)
    if len(items) == 1:
        return items[0]
    out = RunStats()
    for p in items:
        out.merge(p)
    return out


class Recorder:
    """The hot-path front of a `RunStats`: cheap appends, folded in by `roll()`.

    `second` is the index of the current series row; the runner advances it with
    `roll(next_second)` from a once-a-second timer, so each row holds what completed
    during that second of the measured window.
    """

    def __init__(self, tools: list[str], stats: RunStats | None = None) -> None:
        self.stats = stats if stats is not None else RunStats()
        self.names = list(tools)
        for name in self.names:
            self.stats.tool(name)
        self._lat: list[list[int]] = [[] for _ in self.names]
        self._svc: list[list[int]] = [[] for _ in self.names]
        self._failed = [0] * len(self.names)
        self.second = 0
        self.sec_sent = 0
        self.sec_failed = 0
        self._sec_errors: dict[str, dict[str, int]] = {}

    def ok(self, tool: int, latency_us: int, service_us: int) -> None:
        self._lat[tool].append(latency_us)
        self._svc[tool].append(service_us)

    def sent(self) -> None:
        self.sec_sent += 1

    def error(self, tool: int, kind: str, code: str) -> None:
        self._failed[tool] += 1
        self.sec_failed += 1
        codes = self.stats.errors[kind]
        codes[code] = codes.get(code, 0) + 1
        second = self._sec_errors.setdefault(kind, {})
        second[code] = second.get(code, 0) + 1

    def last_p99_ms(self) -> float:
        """The p99 latency of the last closed second (0.0 when nothing completed in it)."""
        if self.second < 1 or len(self.stats.series) < self.second:
            return 0.0
        return _pct_ms(self.stats.series[self.second - 1].latency, 99.0)

    def error_many(self, tool: int, kind: str, code: str, n: int) -> None:
        """`n` failures of one kind at once (requests skipped without being sent)."""
        self._failed[tool] += n
        self.sec_failed += n
        codes = self.stats.errors[kind]
        codes[code] = codes.get(code, 0) + n

    def roll(self, next_second: int | None = None) -> None:
        """Fold buffered values into the histograms and close the current row."""
        row = self.stats.row(self.second)
        row_latency, row_service = row.live()
        row.sent += self.sec_sent
        row.failed += self.sec_failed
        self.stats.sent += self.sec_sent
        self.sec_sent = self.sec_failed = 0
        add_errors(row.errors, self._sec_errors)
        self._sec_errors = {}
        for i, name in enumerate(self.names):
            ts = self.stats.tools[name]
            lat, svc = self._lat[i], self._svc[i]
            if lat:
                row.ok += len(lat)
                ts.ok += len(lat)
                for v, n in Counter(lat).items():
                    ts.latency.record_value(v, n)
                    row_latency.record_value(v, n)
                for v, n in Counter(svc).items():
                    ts.service.record_value(v, n)
                    row_service.record_value(v, n)
                lat.clear()
                svc.clear()
            ts.failed += self._failed[i]
            self._failed[i] = 0
        if next_second is not None:
            if next_second != self.second:
                row.pack()  # the second is closed: keep it compressed
            self.second = next_second
