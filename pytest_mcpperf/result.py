"""`LoadResult`: a finished run, readable as attributes that mirror the report keys.

The report dictionary (schema "mcpperf/1", its keys typed below as `Report`) is the
single source of truth; `LoadResult` only gives it a friendly face:
`result.latency_ms.p99`, `result.throughput_rps`, `result.error_rate`, `result.to_dict()`.
`docs/ARCHITECTURE.md` shows where each section comes from.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any, NotRequired, TypedDict, cast

SCHEMA = "mcpperf/1"


class Percentiles(TypedDict):
    """Milliseconds; zeros when nothing succeeded."""

    min: float
    mean: float
    p50: float
    p90: float
    p99: float
    p999: float
    max: float


class ErrorCounts(TypedDict):
    """Failed requests by class (`vocabulary.ERROR_CLASSES`)."""

    tool_error: int
    rpc_error: int
    http_error: int
    transport: int
    timeout: int
    protocol: int
    too_large: int


class Requests(TypedDict):
    scheduled: int
    sent: int
    completed: int
    ok: int
    failed: int
    errors: ErrorCounts
    #: due but never sent, for any reason (scheduled == sent + not_sent)
    not_sent: NotRequired[int]
    reinits: NotRequired[int]
    connections_opened: NotRequired[int]


class LatenessUs(TypedDict):
    """A lateness histogram's count and percentiles, in microseconds."""

    count: int
    p50: int
    p90: int
    p99: int
    p999: int
    max: int


class Accuracy(TypedDict):
    """The generator's self-check: `verdict` is "valid", "client_bound" or "contended"."""

    verdict: str
    reason: str
    target_rps: float | None
    achieved_send_rps: float
    dispatched_rps: float
    late_sends: int
    queued_sends: int
    loop_lag_ms: dict[str, float]
    gc_pause_ms: dict[str, float]
    client_cpu_percent: float
    client_cpu_percent_per_process: list[float]
    host_cpu_busy_percent: float
    host_steal_percent: NotRequired[float]
    host_other_work_percent: NotRequired[float | None]
    host_cpus: NotRequired[int]
    dispatch_timer: NotRequired[str | None]
    dispatch_lateness_us: NotRequired[LatenessUs]
    queue_wait_us: NotRequired[LatenessUs]


class RssMb(TypedDict):
    start: float
    peak: float
    end: float


class ServerSection(TypedDict, total=False):
    """The server's own process tree, sampled while the run went on (empty without a pid)."""

    pid: int
    rss_mb: RssMb
    cpu_percent: dict[str, float]
    growth_percent: float
    samples: int
    alive: bool
    series: list[dict[str, float]]
    processes: dict[str, int]  # {start, peak}: the processes of the sampled tree
    exit_status: int | None  # a spawned server that died during the run
    output_tail: str  # its last lines of output


class RequestFigures(TypedDict):
    """One method's (or one tool's, prompt's, resource's) share of a run."""

    ok: int
    failed: int
    throughput_rps: float  # its ok completions over the measured window
    latency_ms: Percentiles
    service_time_ms: Percentiles


class Report(TypedDict):
    """One run's report object (schema "mcpperf/1")."""

    schema: str
    scenario: str
    pattern: str
    started_at: str
    duration_s: float
    target: dict[str, Any]
    config: dict[str, Any]
    requests: Requests
    throughput_rps: float
    latency_ms: Percentiles
    service_time_ms: Percentiles
    accuracy: Accuracy
    server: ServerSection
    timeseries: list[dict[str, Any]]
    criteria: list[dict[str, Any]]
    per_tool: dict[str, dict[str, Any]]  # by tool, prompt or resource: `RequestFigures` + method
    per_method: NotRequired[dict[str, RequestFigures]]  # by JSON-RPC method (tools/call, ...)
    errors_by_code: dict[str, dict[str, int]]
    histograms: dict[str, str]
    #: pattern "journey" only: journeys, journeys_per_s, and per step (open, list,
    #: call, close) count, ok, failed, errors and latency_ms (`engine.journey.section`)
    journey: NotRequired[dict[str, Any]]


def request_rows(report: Mapping[str, Any]) -> list[tuple[int, str, Mapping[str, Any]]]:
    """A run's figures per method and per request, as (depth, name, figures) rows.

    None when the run sent one kind of request. With several methods: a row per method
    (depth 1), its name the one tool, prompt or resource it was about if only one, else
    followed by a row per request (depth 2). With one method: a row per request (depth 1)
    when there are several. The same rows make the pytest table and the CLI's text.
    """
    per_tool: Mapping[str, Any] = report.get("per_tool") or {}
    per_method: Mapping[str, Any] = report.get("per_method") or {}
    if len(per_method) < 2:
        return [(1, name, t) for name, t in per_tool.items()] if len(per_tool) > 1 else []
    names: dict[str, list[str]] = {m: [] for m in per_method}
    for name, t in per_tool.items():
        names.setdefault(str(t.get("method", "tools/call")), []).append(name)
    rows: list[tuple[int, str, Mapping[str, Any]]] = []
    for method, figures in per_method.items():
        mine = names.get(method, [])
        if len(mine) == 1:
            only = mine[0]
            rows.append((1, only if only.startswith(method) else f"{method} {only}", figures))
        else:
            rows.append((1, method, figures))
            rows += [(2, n, per_tool[n]) for n in mine]
    return rows


class Section(Mapping[str, Any]):
    """Read-only attribute view over one nested object of the report."""

    __slots__ = ("_data", "_path")

    def __init__(self, data: Mapping[str, Any], path: str = "") -> None:
        self._data = data
        self._path = path

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in Section.__slots__:
            # copy/pickle probes, and a half-built object: never look these up as keys
            raise AttributeError(name)
        try:
            return _wrap(self._data[name], f"{self._path}{name}.")
        except KeyError:
            where = self._path.rstrip(".") or "the report"
            raise AttributeError(f"{where} has no key {name!r}") from None

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key], f"{self._path}{key}.")

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Section({dict(self._data)!r})"


def _wrap(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        return Section(value, path)
    return value


def _plain(value: Any) -> Any:
    """Plain dicts all the way down (a report may hold Sections of another result)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class LoadResult(Section):
    """The outcome of one load run: a read-only view over its `Report`."""

    def __init__(self, report: Mapping[str, Any]) -> None:
        super().__init__(report._data if isinstance(report, Section) else report)

    @property
    def report(self) -> Report:
        """The report object itself, typed (read it, don't change it)."""
        return cast(Report, self._data)

    @property
    def error_rate(self) -> float:
        """Failed requests as a fraction (0.0-1.0) of the requests that finished."""
        req = self._data.get("requests", {})
        done = req.get("ok", 0) + req.get("failed", 0)
        return req.get("failed", 0) / done if done else 0.0

    @property
    def client_bound(self) -> bool:
        """True when the generator, not the server, limited the run."""
        verdict: str = self._data.get("accuracy", {}).get("verdict", "valid")
        return verdict == "client_bound"

    @property
    def contended(self) -> bool:
        """True when other work on the host disturbed the run (see `accuracy.reason`)."""
        verdict: str = self._data.get("accuracy", {}).get("verdict", "valid")
        return verdict == "contended"

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(_plain(self._data))

    def __repr__(self) -> str:
        d = self._data
        lat = d.get("latency_ms", {})
        return (
            f"<LoadResult {d.get('scenario') or d.get('pattern', '?')}: "
            f"{d.get('throughput_rps', 0):.1f} rps, p99 {lat.get('p99', 0):.2f} ms, "
            f"errors {self.error_rate:.2%}>"
        )
