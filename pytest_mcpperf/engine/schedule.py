"""Arrival plans: when each request of a run is due (pure; no clock, no I/O).

An open-loop plan yields intended send offsets, in seconds from the start of the
run, in ascending order; offset *i* is computed from *i* (never by accumulating
sleeps), so a late generator cannot drift the schedule. `shard(plan, k, n)` is
request *i* for every *i* with ``i % n == k``: the split used across generator
processes, deterministic and independent of timing. A closed loop has no offsets,
only a number of users.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


class Plan(Protocol):
    """An open-loop arrival plan."""

    @property
    def duration_s(self) -> float: ...

    @property
    def target_rps(self) -> float: ...

    def offsets(self) -> Iterator[float]: ...


@dataclass(frozen=True)
class Constant:
    """`rate` requests/s evenly spaced: offset i = i / rate, for offsets < duration."""

    rate: float
    duration_s: float

    @property
    def target_rps(self) -> float:
        return self.rate

    def offsets(self) -> Iterator[float]:
        if self.rate <= 0:
            return
        count = math.ceil(self.rate * self.duration_s - 1e-9)
        for i in range(count):
            yield i / self.rate


@dataclass(frozen=True)
class Poisson:
    """Exponential gaps with mean 1/rate, from a seeded generator (reproducible)."""

    rate: float
    duration_s: float
    seed: int = 0

    @property
    def target_rps(self) -> float:
        return self.rate

    def offsets(self) -> Iterator[float]:
        if self.rate <= 0:
            return
        rng = random.Random(self.seed)
        t = 0.0
        while True:
            t += rng.expovariate(self.rate)
            if t >= self.duration_s:
                return
            yield t


@dataclass(frozen=True)
class Ramp:
    """Rate rising (or falling) linearly from `start_rate` to `end_rate`.

    Request i is due when the integral of the rate reaches i:
    ``r0*t + (r1-r0)*t**2/(2*D) = i``, solved exactly.
    """

    start_rate: float
    end_rate: float
    duration_s: float

    @property
    def target_rps(self) -> float:
        return (self.start_rate + self.end_rate) / 2

    def offsets(self) -> Iterator[float]:
        r0, d = self.start_rate, self.duration_s
        a = (self.end_rate - r0) / (2 * d)
        total = r0 * d + a * d * d
        for i in range(math.ceil(total - 1e-9)):
            yield _ramp_time(r0, a, i)


def _ramp_time(r0: float, a: float, i: int) -> float:
    if abs(a) < 1e-12:
        return i / r0
    # numerically stable root of a*t^2 + r0*t - i = 0
    return (2 * i) / (r0 + math.sqrt(r0 * r0 + 4 * a * i))


@dataclass(frozen=True)
class Burst:
    """`size` requests all due at once, every `interval_s`, starting at 0."""

    size: int
    interval_s: float
    duration_s: float

    @property
    def target_rps(self) -> float:
        return self.size / self.interval_s

    def offsets(self) -> Iterator[float]:
        bursts = math.ceil(self.duration_s / self.interval_s - 1e-9)
        for k in range(bursts):
            t = k * self.interval_s
            for _ in range(self.size):
                yield t


@dataclass(frozen=True)
class Stages:
    """Plans run one after another (e.g. baseline -> stress -> recovery probe)."""

    stages: Sequence[Plan]

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.stages)

    @property
    def target_rps(self) -> float:
        d = self.duration_s
        return sum(s.target_rps * s.duration_s for s in self.stages) / d if d else 0.0

    def offsets(self) -> Iterator[float]:
        start = 0.0
        for stage in self.stages:
            for t in stage.offsets():
                yield start + t
            start += stage.duration_s


def baseline_stress_recovery(
    baseline_rps: float, stress_rps: float, *, baseline_s: float, stress_s: float, recovery_s: float
) -> Stages:
    """The classic three-stage plan: steady load, overload, then the baseline again
    as a recovery probe."""
    return Stages(
        [
            Constant(baseline_rps, baseline_s),
            Constant(stress_rps, stress_s),
            Constant(baseline_rps, recovery_s),
        ]
    )


@dataclass(frozen=True)
class ClosedLoop:
    """N users, each sending its next request when the previous one answered."""

    users: int
    duration_s: float


def shard(plan: Plan, index: int, count: int) -> Iterator[float]:
    """Offsets of requests i with i % count == index."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} out of range for {count} shards")
    return itertools.islice(plan.offsets(), index, None, count)


def shard_users(users: int, index: int, count: int) -> int:
    """How many of `users` closed-loop users shard `index` of `count` runs."""
    return len(range(index, users, count))


def count(plan: Plan) -> int:
    """How many requests a plan schedules."""
    return sum(1 for _ in plan.offsets())
