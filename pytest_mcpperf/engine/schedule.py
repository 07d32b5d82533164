"""Arrival plans: when each request of a run is due (pure; no clock, no I/O).

An open-loop plan yields intended send offsets, in seconds from the start of the
run, in ascending order; offset *i* is computed from *i* (never by accumulating
sleeps), so a late generator cannot drift the schedule. `shard(plan, k, n)` is
request *i* for every *i* with ``i % n == k``: the split used across generator
processes, deterministic and independent of timing. A closed loop has no offsets,
only a number of users.

The generator walks a plan with a `Cursor` (`plan.cursor()`, `ShardCursor` for one
process's share): the next request's offset, taking it, and skipping every request due
before a time in one step. A run at a rate the generator cannot reach (1e9 requests/s)
therefore never materialises its unsent requests: it counts them.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


class Plan(Protocol):
    """An open-loop arrival plan."""

    @property
    def duration_s(self) -> float: ...

    @property
    def target_rps(self) -> float: ...

    def offsets(self) -> Iterator[float]: ...

    def cursor(self) -> Cursor: ...


class Cursor(Protocol):
    """A walk over a plan's requests in order; `index` is the next request's number."""

    index: int

    def peek(self) -> float | None:
        """The offset of request `index`, or None when the plan has no more."""
        ...

    def advance(self) -> None:
        """Move past request `index`."""
        ...

    def skip_before(self, t: float) -> None:
        """Move past every request due before offset `t` (cost independent of how many)."""
        ...


class IndexCursor:
    """A cursor over a plan whose offset i and count before t have closed forms."""

    def __init__(
        self, total: int, offset: Callable[[int], float], count_before: Callable[[float], float]
    ) -> None:
        self.index = 0
        self.total = total
        self._offset = offset
        self._count_before = count_before

    def peek(self) -> float | None:
        return self._offset(self.index) if self.index < self.total else None

    def advance(self) -> None:
        self.index += 1

    def skip_before(self, t: float) -> None:
        if t == math.inf:
            self.index = self.total
            return
        estimate = self._count_before(t)
        if not math.isfinite(estimate):
            estimate = self.total if estimate > 0 else 0
        i = max(self.index, min(self.total, math.ceil(estimate)))
        off = self._offset
        while i < self.total and off(i) < t:  # rounding in the closed form: fix it up
            i += 1
        while i > self.index and off(i - 1) >= t:
            i -= 1
        self.index = i


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

    def cursor(self) -> Cursor:
        rate = self.rate
        if rate <= 0:
            return IndexCursor(0, float, float)
        total = math.ceil(rate * self.duration_s - 1e-9)
        return IndexCursor(total, lambda i: i / rate, lambda t: t * rate)


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

    def cursor(self) -> Cursor:
        return PoissonCursor(self)


POISSON_NORMAL_MEAN = 50.0  # above this mean, a count is drawn from the normal approximation


class PoissonCursor:
    """Arrivals drawn one by one; skipping draws *how many* fell in the skipped span.

    A Poisson process is memoryless, so after a skip to t the next arrival is t plus a
    fresh exponential gap: the walk has the same distribution as drawing every arrival,
    at a cost independent of the span's length.
    """

    def __init__(self, plan: Poisson) -> None:
        self.index = 0
        self._rate = plan.rate
        self._end = plan.duration_s
        self._rng = random.Random(plan.seed)
        self._next: float | None = None
        if plan.rate > 0:
            self._draw_after(0.0)

    def _draw_after(self, t: float) -> None:
        nxt = t + self._rng.expovariate(self._rate)
        self._next = nxt if nxt < self._end else None

    def peek(self) -> float | None:
        return self._next

    def advance(self) -> None:
        if self._next is not None:
            self.index += 1
            self._draw_after(self._next)

    def skip_before(self, t: float) -> None:
        if self._next is None or self._next >= t:
            return
        span = min(t, self._end) - self._next
        self.index += 1 + self._count(self._rate * span)
        if t >= self._end:
            self._next = None
        else:
            self._draw_after(t)

    def _count(self, mean: float) -> int:
        """A Poisson(mean) draw (normal approximation for large means)."""
        rng = self._rng
        if mean > POISSON_NORMAL_MEAN:
            return max(0, round(rng.gauss(mean, math.sqrt(mean))))
        limit, k, p = math.exp(-mean), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k


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

    def cursor(self) -> Cursor:
        r0, d = self.start_rate, self.duration_s
        a = (self.end_rate - r0) / (2 * d)
        total = math.ceil(r0 * d + a * d * d - 1e-9)
        return IndexCursor(
            total, lambda i: _ramp_time(r0, a, i), lambda t: r0 * min(t, d) + a * min(t, d) ** 2
        )


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

    def cursor(self) -> Cursor:
        size, gap = self.size, self.interval_s
        bursts = math.ceil(self.duration_s / gap - 1e-9)
        return IndexCursor(
            bursts * size, lambda i: (i // size) * gap, lambda t: math.ceil(t / gap) * size
        )


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

    def cursor(self) -> Cursor:
        return StagesCursor(self.stages)


class StagesCursor:
    """The stages' cursors one after another, each shifted by the stages before it."""

    def __init__(self, stages: Sequence[Plan]) -> None:
        self.index = 0
        self._parts: list[tuple[float, float, Cursor]] = []
        start = 0.0
        for stage in stages:
            self._parts.append((start, start + stage.duration_s, stage.cursor()))
            start += stage.duration_s
        self._k = 0

    def _current(self) -> tuple[float, Cursor] | None:
        while self._k < len(self._parts):
            start, _, cur = self._parts[self._k]
            if cur.peek() is not None:
                return start, cur
            self._k += 1
        return None

    def peek(self) -> float | None:
        part = self._current()
        if part is None:
            return None
        t = part[1].peek()
        return None if t is None else part[0] + t

    def advance(self) -> None:
        part = self._current()
        if part is not None:
            part[1].advance()
            self.index += 1

    def skip_before(self, t: float) -> None:
        while (part := self._current()) is not None:
            start, cur = part
            before = cur.index
            cur.skip_before(t - start)
            self.index += cur.index - before
            if cur.peek() is not None:
                return


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


class ShardCursor:
    """Requests i with ``i % count == index`` of a plan's cursor: one process's share.

    `take()` gives the next request's offset and global number; `skip_before(t)` skips
    this share's requests due before `t` and returns the first skipped number and how
    many (the numbers are ``first + j * count``).
    """

    def __init__(self, base: Cursor, index: int = 0, count: int = 1) -> None:
        if not 0 <= index < count:
            raise ValueError(f"shard index {index} out of range for {count} shards")
        self.base, self.shard, self.count = base, index, count

    def _align(self) -> None:
        base, n, k = self.base, self.count, self.shard
        if n > 1:
            while base.index % n != k and base.peek() is not None:
                base.advance()

    def peek(self) -> float | None:
        self._align()
        return self.base.peek()

    def take(self) -> int:
        """The number of the request `peek()` showed; moves past it."""
        self._align()
        i = self.base.index
        self.base.advance()
        return i

    def skip_before(self, t: float) -> tuple[int, int]:
        self._align()
        first = self.base.index
        self.base.skip_before(t)
        skipped = -(-(self.base.index - first) // self.count)
        self._align()
        return first, skipped


def shard_users(users: int, index: int, count: int) -> int:
    """How many of `users` closed-loop users shard `index` of `count` runs."""
    return len(range(index, users, count))


def count(plan: Plan) -> int:
    """How many requests a plan schedules."""
    return sum(1 for _ in plan.offsets())
