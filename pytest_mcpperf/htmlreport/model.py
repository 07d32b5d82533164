"""The data an HTML report embeds: report JSON in, one compact view model out.

A report file is either one run (`mcpperf client --json`, schema "mcpperf/1" with
`requests`) or a pytest report (`{schema, environment, results: [run, ...]}`). Every run
becomes a `run view` holding what the page draws, already in the units it shows:
per-second series (downsampled to at most `MAX_POINTS` points, so that a one-hour run
stays small), the HDR percentile spectrum computed from the run's histograms, the
server's readings, and the run's summary objects as they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_mcpperf.engine import stats

#: At most this many points per time series; a longer run is shown in buckets of
#: several seconds (counts as per-second means, latency lines as the bucket's worst second).
MAX_POINTS = 900

#: The spectrum's points: 1/(1-q) from 1 (p0) to 10^5 (p99.999), evenly on a log axis.
SPECTRUM_DECADES = 5
SPECTRUM_POINTS_PER_DECADE = 24

COUNT_KEYS = ("sent", "ok", "failed")
LATENCY_KEYS = ("p50_ms", "p90_ms", "p99_ms", "max_ms", "service_p50_ms", "service_p99_ms")
SUMMARY_KEYS = (
    "scenario",
    "pattern",
    "started_at",
    "duration_s",
    "target",
    "config",
    "requests",
    "throughput_rps",
    "latency_ms",
    "service_time_ms",
    "accuracy",
    "criteria",
    "per_tool",
    "per_method",
    "errors_by_code",
    "memory",
    "stress",
)


class ReportFormatError(ValueError):
    """A file that is not an mcpperf report."""


def runs_of(document: Mapping[str, Any], source: str) -> list[Mapping[str, Any]]:
    """The runs a report file holds (one for a CLI run, one per result for pytest)."""
    if not isinstance(document, Mapping) or not str(document.get("schema", "")).startswith(
        "mcpperf/"
    ):
        raise ReportFormatError(
            f'{source} is not an mcpperf report (no schema "mcpperf/..."); pass a file '
            "written by `mcpperf client --json` or pytest --perf-report=json"
        )
    if "results" in document:
        results = document["results"]
        if not isinstance(results, list):
            raise ReportFormatError(f"{source}: `results` is not a list; the file is damaged")
        return [r for r in results if isinstance(r, Mapping)]
    if "requests" in document:
        return [document]
    raise ReportFormatError(
        f"{source} holds neither one run (`requests`) nor pytest `results`; pass a run "
        "report or a pytest report"
    )


def build(documents: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """The page's view model for the given `(source name, report document)` pairs."""
    sources: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for index, (name, doc) in enumerate(documents):
        found = runs_of(doc, name)
        kind = "pytest" if "results" in doc else "run"
        sources.append(
            {
                "name": name,
                "kind": kind,
                "runs": len(found),
                "environment": doc.get("environment") or {},
                "plugin_version": doc.get("plugin_version"),
            }
        )
        for run in found:
            runs.append(run_view(run, source=index, label=_label(run, name, kind)))
    return {"sources": sources, "runs": runs, "comparison": len(documents) > 1}


def _label(run: Mapping[str, Any], source: str, kind: str) -> str:
    name = str(run.get("nodeid") or run.get("scenario") or run.get("pattern") or "run")
    return name if kind == "pytest" else f"{name} ({source})"


def run_view(run: Mapping[str, Any], *, source: int, label: str) -> dict[str, Any]:
    """One run as the page draws it."""
    view: dict[str, Any] = {"label": label, "source": source, "outcome": run.get("outcome")}
    for key in SUMMARY_KEYS:
        if key in run:
            view[key] = run[key]
    server = dict(run.get("server") or {})
    readings = server.pop("series", None) or []
    view["server"] = server
    view["server_series"] = server_series(readings)
    view["series"] = time_series(run.get("timeseries") or [])
    view["spectrum"] = spectrum(run.get("histograms") or {})
    return view


def time_series(rows: Sequence[Mapping[str, Any]], max_points: int = MAX_POINTS) -> dict[str, Any]:
    """Column arrays of the per-second rows, in buckets of `step_s` seconds.

    With `step_s` 1 every value is the row's own; with a larger step the counts are
    per-second means over the bucket and the latency lines its worst second, so that a
    spike is never averaged away.
    """
    step = max(1, math.ceil(len(rows) / max_points))
    out: dict[str, Any] = {"step_s": step, "t": []}
    for key in (*COUNT_KEYS, *LATENCY_KEYS):
        out[key] = []
    codes = sorted(
        {f"{c} {code}" for r in rows for c, cs in (r.get("errors") or {}).items() for code in cs}
    )
    errors: dict[str, list[float]] = {name: [] for name in codes}
    for start in range(0, len(rows), step):
        bucket = rows[start : start + step]
        out["t"].append(bucket[0].get("t", start))
        for key in COUNT_KEYS:
            out[key].append(_mean(r.get(key, 0) for r in bucket))
        for key in LATENCY_KEYS:
            values = [r[key] for r in bucket if key in r and r.get("ok")]
            out[key].append(max(values) if values else None)
        for name in codes:
            cls, code = name.split(" ", 1)
            errors[name].append(
                _mean((r.get("errors") or {}).get(cls, {}).get(code, 0) for r in bucket)
            )
    out["errors"] = errors
    return out


def _mean(values: Any) -> float:
    items = list(values)
    total = float(sum(items))
    return total / len(items) if items else 0.0


def server_series(readings: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The server's readings as columns: seconds, RSS in MB, CPU percent."""
    return {
        "t": [r.get("t", 0.0) for r in readings],
        "rss_mb": [round(r.get("rss_bytes", 0) / (1024 * 1024), 3) for r in readings],
        "cpu_percent": [r.get("cpu_percent") for r in readings],
    }


def spectrum_x() -> list[float]:
    """The spectrum's x values, 1/(1-q)."""
    n = SPECTRUM_DECADES * SPECTRUM_POINTS_PER_DECADE
    return [10 ** (k / SPECTRUM_POINTS_PER_DECADE) for k in range(n + 1)]


def spectrum(histograms: Mapping[str, str]) -> dict[str, Any]:
    """Latency and service time (ms) at each percentile of `spectrum_x()`.

    Points past the histogram's resolution (a 1,000-request run has no p99.99 of its own)
    repeat the maximum, as HDR's own percentile output does.
    """
    xs = spectrum_x()
    out: dict[str, Any] = {"x": [round(x, 4) for x in xs]}
    for key, name in (("latency_us", "latency"), ("service_time_us", "service")):
        text = histograms.get(key)
        if not text:
            continue
        h = stats.decode(text)
        if not h.get_total_count():
            continue
        out[name] = [
            h.get_value_at_percentile(100.0 * (1.0 - 1.0 / x)) / 1000.0
            if x > 1
            else h.get_min_value() / 1000.0
            for x in xs
        ]
    return out
