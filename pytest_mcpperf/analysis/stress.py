"""Stress analysis: reliability score and grade, and recovery time (pure functions).

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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

GRADES = (
    (99.0, "EXCELLENT", "Server handled stress excellently"),
    (95.0, "GOOD", "Server handled stress adequately"),
    (90.0, "MODERATE", "Server showed some stress-related issues"),
    (0.0, "POOR", "Server struggled under stress"),
)
RECOVERY_LIMIT_S = 30.0  # the seed's criterion: < 30 s recovery after stress events
ERROR_CLASSES = ("tool_error", "rpc_error", "http_error", "transport", "timeout")


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
    return Tally(scheduled=int(requests.get("scheduled", 0) or 0),
                 sent=int(requests.get("sent", 0) or 0), completed=completed, ok=ok,
                 failed=failed, **counts)


def combine(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for t in tallies:
        total = total + t
    return total


def reliability_percent(expected: Tally) -> float:
    """Successes among the requests expected to succeed, in percent."""
    if expected.attempted <= 0:
        raise ValueError("no request was expected to succeed, so reliability is undefined: "
                         "send some ordinary calls (lower --error-rate-percent below 100)")
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
    def from_samples(cls, baseline: Sequence[ProbeSample], *, p99_factor: float = 1.5,
                     p99_slack_ms: float = 5.0, error_slack: float = 0.01) -> BaselineRange:
        usable = [s for s in baseline if s.ok + s.failed > 0]
        if not usable:
            raise ValueError("the baseline has no completed request, so there is no healthy "
                             "range to recover to: check that the server answers at all")
        p99 = max(s.p99_ms for s in usable)
        err = max(s.error_rate for s in usable)
        return cls(p99 * p99_factor + p99_slack_ms, err + error_slack)

    def contains(self, s: ProbeSample) -> bool:
        if s.ok + s.failed == 0:
            return False
        return s.p99_ms <= self.p99_limit_ms and s.error_rate <= self.error_rate_limit


def recovery_time(probes: Sequence[ProbeSample], healthy: BaselineRange,
                  *, hold: int = 3) -> float | None:
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


def analyze(expected: Tally, *, deliberate: Tally | None = None, server_alive: bool = True,
            recovery_s: float | None = None, recovery_measured: bool = True) -> StressAnalysis:
    """Score and grade a stress run from its tallies."""
    pct = reliability_percent(expected)
    return StressAnalysis(pct, grade(pct), recovery_s, server_alive, expected,
                          deliberate or Tally(), recovery_measured=recovery_measured)


__all__ = [
    "GRADES", "RECOVERY_LIMIT_S", "BaselineRange", "ProbeSample", "StressAnalysis", "Tally",
    "analyze", "combine", "grade", "grade_message", "recovered", "recovery_time",
    "reliability_percent", "tally_from_requests",
]
