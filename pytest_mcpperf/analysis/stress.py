"""Stress: what a stress run sends, its phases, and how it is scored.

The procedure (`run_stress`, `stress_with_recovery`): a light probe records the healthy
range, the stress runs, then the probe runs again until the server is back in range.
The engine is handed in as a callable and the server as any `MeasuredServer`, so the
`mcpperf stress` command and the plugin's `stress_check` fixture run it alike. The
analysis below it is pure functions: reliability score and grade, and recovery time.

Reliability is the share of successes among the requests that were *expected* to
succeed. Deliberate faults (the `error_simulation` calls of a chaos run) are expected
outcomes: they are tallied apart and never lower the score. A request that was scheduled
but never sent, timed out, or got any HTTP error status (4xx included) is not a success.

Recovery time: after the stress stops, a light probe runs in short intervals; the server
has recovered at the start of the first run of `hold` consecutive intervals whose p99 and
error rate are back within the baseline's range (see `BaselineRange`). An interval that
completed nothing is never "within range": a silent server has not recovered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_mcpperf.analysis.server import MeasuredServer, RunMany
from pytest_mcpperf.errors import McpPerfError
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec, ToolCall
from pytest_mcpperf.vocabulary import ERROR_CLASSES

GRADES = (
    (99.0, "EXCELLENT", "Server handled stress excellently"),
    (95.0, "GOOD", "Server handled stress adequately"),
    (90.0, "MODERATE", "Server showed some stress-related issues"),
    (0.0, "POOR", "Server struggled under stress"),
)
RECOVERY_LIMIT_S = 30.0  # the seed's criterion: < 30 s recovery after stress events


@dataclass(frozen=True)
class Tally:
    """Request counts of one group of requests (all expected to succeed, or all not)."""

    scheduled: int = 0
    sent: int = 0
    completed: int = 0
    ok: int = 0
    failed: int = 0
    tool_error: int = 0
    rpc_error: int = 0
    http_error: int = 0
    transport: int = 0
    timeout: int = 0
    protocol: int = 0
    too_large: int = 0

    @property
    def attempted(self) -> int:
        """Requests the plan meant to make: the denominator of the reliability score."""
        return max(self.scheduled, self.sent, self.ok + self.failed)

    def __add__(self, other: Tally) -> Tally:
        a, b = asdict(self), asdict(other)
        return Tally(**{k: a[k] + b[k] for k in a})


def tally_from_requests(requests: Mapping[str, Any]) -> Tally:
    """A `Tally` from a report's `requests` object ({scheduled, sent, ..., errors{...}}).

    `ok` is taken as reported, but an HTTP error is never a success: should a report
    count more ok + http errors than completed replies, the excess is removed from `ok`.
    """
    errors: Mapping[str, Any] = requests.get("errors", {}) or {}
    counts = {k: int(errors.get(k, 0) or 0) for k in ERROR_CLASSES}
    completed = int(requests.get("completed", 0) or 0)
    ok = int(requests.get("ok", 0) or 0)
    if completed and ok + counts["http_error"] > completed:
        ok = max(0, completed - counts["http_error"])
    failed = max(int(requests.get("failed", 0) or 0), sum(counts.values()))
    return Tally(
        scheduled=int(requests.get("scheduled", 0) or 0),
        sent=int(requests.get("sent", 0) or 0),
        completed=completed,
        ok=ok,
        failed=failed,
        **counts,
    )


def combine(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for t in tallies:
        total = total + t
    return total


def reliability_percent(expected: Tally) -> float:
    """Successes among the requests expected to succeed, in percent."""
    if expected.attempted <= 0:
        raise ValueError(
            "no request was expected to succeed, so reliability is undefined: "
            "send some ordinary calls (lower --error-rate-percent below 100)"
        )
    return 100.0 * expected.ok / expected.attempted


def grade(percent: float) -> str:
    """The seed's reliability grades: >= 99 EXCELLENT, >= 95 GOOD, >= 90 MODERATE, POOR."""
    return next(name for floor, name, _ in GRADES if percent >= floor)


def grade_message(name: str) -> str:
    return next(msg for _, g, msg in GRADES if g == name)


@dataclass(frozen=True)
class ProbeSample:
    """One probe interval after the stress stopped.

    `t` is when the interval started, in seconds since the stress stopped.
    """

    t: float
    p99_ms: float
    ok: int
    failed: int

    @property
    def error_rate(self) -> float:
        done = self.ok + self.failed
        return self.failed / done if done else 1.0


@dataclass(frozen=True)
class BaselineRange:
    """The range of a healthy server, from probe intervals before the stress.

    An interval is within range when its p99 is at most
    ``max(baseline p99) * p99_factor + p99_slack_ms`` and its error rate at most
    ``max(baseline error rate) + error_slack``. The factor and slacks absorb the noise of
    a handful of baseline intervals; defaults: 1.5, 5 ms and 1 percentage point.
    """

    p99_limit_ms: float
    error_rate_limit: float

    @classmethod
    def from_samples(
        cls,
        baseline: Sequence[ProbeSample],
        *,
        p99_factor: float = 1.5,
        p99_slack_ms: float = 5.0,
        error_slack: float = 0.01,
    ) -> BaselineRange:
        usable = [s for s in baseline if s.ok + s.failed > 0]
        if not usable:
            raise ValueError(
                "the baseline has no completed request, so there is no healthy "
                "range to recover to: check that the server answers at all"
            )
        p99 = max(s.p99_ms for s in usable)
        err = max(s.error_rate for s in usable)
        return cls(p99 * p99_factor + p99_slack_ms, err + error_slack)

    def contains(self, s: ProbeSample) -> bool:
        if s.ok + s.failed == 0:
            return False
        return s.p99_ms <= self.p99_limit_ms and s.error_rate <= self.error_rate_limit


def recovery_time(
    probes: Sequence[ProbeSample], healthy: BaselineRange, *, hold: int = 3
) -> float | None:
    """Seconds from the stress's end to the start of the first `hold` healthy intervals.

    Returns None when the probes never show `hold` consecutive healthy intervals.
    """
    if hold < 1:
        raise ValueError(f"hold={hold}: pass 1 or more consecutive intervals")
    run_start: float | None = None
    run = 0
    for s in sorted(probes, key=lambda p: p.t):
        if healthy.contains(s):
            run_start = s.t if run == 0 else run_start
            run += 1
            if run >= hold:
                return max(0.0, run_start if run_start is not None else s.t)
        else:
            run = 0
    return None


def recovered(probes: Sequence[ProbeSample], healthy: BaselineRange, *, hold: int = 3) -> bool:
    """True once the last `hold` probes are all healthy (when probing may stop)."""
    tail = list(probes)[-hold:]
    return len(tail) == hold and all(healthy.contains(s) for s in tail)


@dataclass(frozen=True)
class StressAnalysis:
    """A stress run's verdict; `to_report()` gives the report's `stress` object."""

    reliability_percent: float
    grade: str
    recovery_s: float | None
    server_alive: bool
    expected: Tally
    deliberate: Tally
    recovery_limit_s: float = RECOVERY_LIMIT_S
    recovery_measured: bool = True

    @property
    def recovered_in_time(self) -> bool:
        return self.recovery_s is not None and self.recovery_s < self.recovery_limit_s

    @property
    def passed(self) -> bool:
        """Alive, graded better than POOR, and (when measured) recovered within 30 s."""
        if not self.server_alive or self.grade == "POOR":
            return False
        return self.recovered_in_time or not self.recovery_measured

    def to_report(self) -> dict[str, Any]:
        return {
            "reliability_percent": round(self.reliability_percent, 3),
            "grade": self.grade,
            "recovery_s": None if self.recovery_s is None else round(self.recovery_s, 3),
            "server_alive": self.server_alive,
            "passed": self.passed,
            "expected": asdict(self.expected),
            "deliberate": asdict(self.deliberate),
        }


def analyze(
    expected: Tally,
    *,
    deliberate: Tally | None = None,
    server_alive: bool = True,
    recovery_s: float | None = None,
    recovery_measured: bool = True,
) -> StressAnalysis:
    """Score and grade a stress run from its tallies."""
    pct = reliability_percent(expected)
    return StressAnalysis(
        pct,
        grade(pct),
        recovery_s,
        server_alive,
        expected,
        deliberate or Tally(),
        recovery_measured=recovery_measured,
    )


# -- the procedure: what a stress run sends, and baseline -> stress -> recovery ----------

FAULTS = ("invalid", "protocol", "internal", "timeout", "disconnect", "overload")
CHAOS_MIX = (
    ToolCall("fast_compute", {"input": 7}, 3.0),
    ToolCall("async_io", {"delay_ms": 20}, 2.0),
    ToolCall("cpu_intensive", {"size": 50}, 1.0),
    ToolCall("memory_allocate", {"mb_size": 1}, 1.0),
    ToolCall("session_counter", {"increment": 1, "counter_id": "chaos"}, 1.0),
)
# A "timeout" fault answers after 1 s; fault runs give up after FAULT_TIMEOUT_S, so it is
# a real client-side timeout and does not hold a connection for the default 5 s.
FAULT_TIMEOUT_S = 0.5
FAULT_MIX = tuple(
    ToolCall(
        "error_simulation",
        {"error_type": f, **({"timeout_ms": 1000} if f == "timeout" else {})},
        1.0,
    )
    for f in FAULTS
)
STRESS_MODES = ("memory", "cpu", "flood", "chaos", "recovery")


@dataclass(frozen=True)
class StressLoad:
    """What the stress phase of one mode sends (defaults: the seed's)."""

    mode: str
    duration_s: float = 60.0
    processes: int = 1
    max_concurrent: int = 100
    mb_per_request: int = 50
    computation_size: int = 1000
    connections_per_second: int = 1000
    max_connections: int = 5000
    requests_per_second: float = 200.0
    error_rate_percent: int = 50
    front_end: str = "api"  # whose option names the engine's messages use
    #: LoadSpec fields that say how to reach the server (transport, server_cmd,
    #: headers, server_processes), given to the stress and probe runs alike
    reach: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in STRESS_MODES:
            raise ValueError(
                f"unknown stress mode {self.mode!r}: pass one of {', '.join(STRESS_MODES)}"
            )


def split_users(total: int, percent: int) -> tuple[int, int]:
    """Split `total` connections into (ordinary, faulty) by `percent`, >= 1 each if used."""
    faulty = round(total * percent / 100)
    if percent and faulty == 0:
        faulty = 1
    ordinary = max(1, total - faulty)
    return ordinary, faulty


def stress_specs(
    load: StressLoad,
    url: str,
    pid: int | None,
) -> tuple[LoadSpec, LoadSpec | None]:
    """The stress phase: the spec expected to succeed, and the deliberate-fault one."""
    base = LoadSpec(
        url=url,
        pattern="concurrent",
        duration_s=load.duration_s,
        processes=load.processes,
        server_pid=pid,
        scenario=f"stress {load.mode}",
        timeout_s=30.0,
        front_end=load.front_end,
    )
    mode = load.mode
    if mode in ("memory", "cpu", "recovery", "chaos"):
        base = base.replace(users=load.max_concurrent, concurrency=load.max_concurrent)
    if mode == "memory":
        return base.replace(
            tool="memory_allocate", arguments={"mb_size": load.mb_per_request}
        ), None
    if mode == "cpu":
        return base.replace(tool="cpu_intensive", arguments={"size": load.computation_size}), None
    if mode == "recovery":
        mix = (
            ToolCall("memory_allocate", {"mb_size": load.mb_per_request}),
            ToolCall("cpu_intensive", {"size": load.computation_size}),
        )
        return base.replace(mix=mix), None
    if mode == "flood":
        return base.replace(
            pattern="throughput",
            rate=float(load.connections_per_second),
            concurrency=load.max_connections,
            tool="fast_compute",
            arguments={"input": 5},
        ), None
    return chaos_specs(base, load.requests_per_second, load.max_concurrent, load.error_rate_percent)


def chaos_specs(
    base: LoadSpec,
    rate: float,
    max_concurrent: int,
    percent: int,
) -> tuple[LoadSpec, LoadSpec | None]:
    """Open loop at `rate`: `percent` % of it deliberate faults, sent at the same time."""
    ordinary_users, faulty_users = split_users(max_concurrent, percent)
    expected = base.replace(
        pattern="throughput",
        rate=rate * (100 - percent) / 100,
        concurrency=ordinary_users,
        mix=CHAOS_MIX,
    )
    if not percent:
        return expected, None
    faults = base.replace(
        pattern="throughput",
        rate=rate * percent / 100,
        concurrency=faulty_users,
        mix=FAULT_MIX,
        timeout_s=FAULT_TIMEOUT_S,
        scenario="stress chaos (deliberate faults)",
    )
    return expected, faults


@dataclass(frozen=True)
class ProbePolicy:
    """How the light probe defines health and waits for recovery.

    The probe calls `probe_tool(**probe_arguments)` at `probe_rate` requests per second,
    in intervals of `interval_s`; `baseline_intervals` of them before the stress define
    the healthy range, and `hold_intervals` healthy ones in a row after it count as
    recovered; probing stops after `timeout_s`.
    """

    baseline_intervals: int = 3
    hold_intervals: int = 3
    timeout_s: float = 60.0
    interval_s: float = 1.0
    probe_rate: float = 20.0
    probe_tool: str = "fast_compute"
    probe_arguments: Mapping[str, Any] = field(default_factory=lambda: {"input": 5})

    def __post_init__(self) -> None:
        if self.interval_s > self.timeout_s:
            raise ValueError(
                f"the probe interval ({self.interval_s:g} s) is longer than the "
                f"recovery timeout ({self.timeout_s:g} s): shorten the interval "
                "or allow more time"
            )

    def probe_spec(self, url: str, front_end: str = "api") -> LoadSpec:
        """One probe interval against `url`."""
        return LoadSpec(
            url=url,
            pattern="throughput",
            rate=self.probe_rate,
            duration_s=self.interval_s,
            concurrency=2,
            tool=self.probe_tool,
            arguments=dict(self.probe_arguments),
            timeout_s=5.0,
            scenario="stress probe",
            front_end=front_end,
        )


def to_probe(result: LoadResult, t: float) -> ProbeSample:
    """One probe interval's p99 and counts, started `t` s after the stress stopped."""
    req = result.to_dict().get("requests", {})
    p99 = float(result.to_dict().get("latency_ms", {}).get("p99", 0.0) or 0.0)
    return ProbeSample(t, p99, int(req.get("ok", 0)), int(req.get("failed", 0)))


@dataclass
class Phases:
    """Everything a stress run measured."""

    baseline: list[ProbeSample] = field(default_factory=list)
    stress: list[LoadResult] = field(default_factory=list)
    probes: list[ProbeSample] = field(default_factory=list)
    healthy: BaselineRange | None = None
    server_alive: bool = True
    probe_timeout_s: float = 0.0
    died_with: str = ""

    def main(self) -> dict[str, Any]:
        """The report of the stress run expected to succeed ({} if the server died)."""
        return self.stress[0].to_dict() if self.stress else {}


def probe_until_recovered(
    take: Callable[[float], ProbeSample],
    healthy: BaselineRange,
    clock: Callable[[], float],
    stopped_at: float,
    timeout_s: float,
    hold: int,
    interval_s: float,
) -> list[ProbeSample]:
    """Probe after the stress until `hold` healthy intervals in a row, or `timeout_s`."""
    probes: list[ProbeSample] = []
    max_probes = int(timeout_s / interval_s) + hold + 1
    while len(probes) < max_probes and clock() - stopped_at < timeout_s:
        probes.append(take(clock() - stopped_at))
        if recovered(probes, healthy, hold=hold):
            break
    return probes


def stress_with_recovery(
    stress: Callable[[], list[LoadResult]],
    probe: Callable[[], LoadResult],
    alive: Callable[[], bool],
    clock: Callable[[], float],
    policy: ProbePolicy,
) -> Phases:
    """Baseline probes, the stress, then probes until recovered (bounded by the policy).

    A server that dies under the stress is a result (`server_alive` False, `died_with`
    the engine's error), not an error; an engine error while the server lives is raised.
    """
    ph = Phases(probe_timeout_s=policy.timeout_s)

    def take(t: float) -> ProbeSample:
        return to_probe(probe(), t)

    n = policy.baseline_intervals
    ph.baseline = [take(-1.0 * (n - i)) for i in range(n)]
    ph.healthy = BaselineRange.from_samples(ph.baseline)
    try:
        ph.stress = stress()
    except McpPerfError as exc:
        if alive():
            raise
        ph.died_with = str(exc)  # the server died under the stress: a result, not an error
    stopped_at = clock()
    ph.server_alive = alive()
    if ph.server_alive:
        ph.probes = probe_until_recovered(
            take,
            ph.healthy,
            clock,
            stopped_at,
            policy.timeout_s,
            policy.hold_intervals,
            policy.interval_s,
        )
        ph.server_alive = alive()
    return ph


def run_stress(
    server: MeasuredServer,
    load: StressLoad,
    policy: ProbePolicy,
    run_many: RunMany,
    clock: Callable[[], float],
) -> Phases:
    """`load`'s stress phase against `server`, between the policy's probes."""
    probe = policy.probe_spec(server.url, load.front_end).replace(
        server_pid=server.pid, **load.reach
    )
    expected, faults = stress_specs(load, server.url, server.pid)
    if load.reach:
        expected = expected.replace(**load.reach)
        faults = faults.replace(**load.reach) if faults is not None else None
    return stress_with_recovery(
        lambda: run_many([expected] if faults is None else [expected, faults]),
        lambda: run_many([probe])[0],
        server.alive,
        clock,
        policy,
    )


def analyze_phases(ph: Phases, hold: int) -> StressAnalysis:
    """Score and grade what a stress run measured (POOR with nothing measured)."""
    if not ph.stress:
        return StressAnalysis(0.0, grade(0.0), None, ph.server_alive, Tally(), Tally())
    expected = tally_from_requests(ph.main().get("requests", {}))
    deliberate = combine(
        tally_from_requests(r.to_dict().get("requests", {})) for r in ph.stress[1:]
    )
    rec = None
    if ph.healthy is not None and ph.server_alive:
        rec = recovery_time(ph.probes, ph.healthy, hold=hold)
    return analyze(expected, deliberate=deliberate, server_alive=ph.server_alive, recovery_s=rec)


def build_report(ph: Phases, a: StressAnalysis) -> dict[str, Any]:
    """The stress run's report with its `stress` object (baseline, probes, verdict)."""
    report = ph.main()
    stress = a.to_report()
    stress["baseline"] = [asdict(s) for s in ph.baseline]
    stress["probes"] = [asdict(s) for s in ph.probes]
    if ph.healthy is not None:
        stress["healthy_range"] = {
            "p99_ms": ph.healthy.p99_limit_ms,
            "error_rate": ph.healthy.error_rate_limit,
        }
    report["stress"] = stress
    return report


def with_stress_report(ph: Phases, a: StressAnalysis) -> LoadResult:
    """The stress run's result with the report's `stress` object added."""
    return LoadResult(build_report(ph, a))


__all__ = [
    "CHAOS_MIX",
    "FAULTS",
    "FAULT_MIX",
    "FAULT_TIMEOUT_S",
    "GRADES",
    "RECOVERY_LIMIT_S",
    "STRESS_MODES",
    "BaselineRange",
    "Phases",
    "ProbePolicy",
    "ProbeSample",
    "StressAnalysis",
    "StressLoad",
    "Tally",
    "analyze",
    "analyze_phases",
    "build_report",
    "chaos_specs",
    "combine",
    "grade",
    "grade_message",
    "probe_until_recovered",
    "recovered",
    "recovery_time",
    "reliability_percent",
    "run_stress",
    "split_users",
    "stress_specs",
    "stress_with_recovery",
    "tally_from_requests",
    "to_probe",
    "with_stress_report",
]
