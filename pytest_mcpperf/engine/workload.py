"""What each request does: one tool call, or a weighted mix of them.

The choice for request *i* is a pure function of (seed, i), through a precomputed
table, so a run split across processes sends exactly the same calls as one process.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence

from pytest_mcpperf.spec import ToolCall

TABLE_SIZE = 4096


class Workload:
    """A weighted tool mix; `choose(i)` is the call index for request i."""

    def __init__(self, calls: Sequence[ToolCall], seed: int = 0) -> None:
        if not calls:
            raise ValueError("a workload needs at least one tool call")
        weights = [float(c.weight) for c in calls]
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(f"mix weights must be >= 0 with a positive sum: {weights}")
        self.calls = tuple(calls)
        self._table = _table(weights, seed) if len(calls) > 1 else [0]

    def choose(self, i: int) -> int:
        table = self._table
        return table[i % len(table)]

    def tally(self, first: int, step: int, n: int) -> list[int]:
        """How many of requests ``first + j * step`` (j < n) go to each call.

        Exact: the choice repeats every TABLE_SIZE requests, so whole periods are
        counted once and multiplied (cost independent of `n`).
        """
        table = self._table
        size = len(table)
        counts = [0] * len(self.calls)
        period = size // math.gcd(size, step) if step else 1
        whole, rest = divmod(n, period)
        for j in range(min(n, period)):
            counts[table[(first + j * step) % size]] += whole + (1 if j < rest else 0)
        return counts

    @property
    def tools(self) -> list[str]:
        return [c.tool for c in self.calls]


def _table(weights: Sequence[float], seed: int) -> list[int]:
    cumulative = list(itertools.accumulate(weights))
    total = cumulative[-1]
    rng = random.Random(seed)
    last = len(cumulative) - 1
    return [
        min(bisect.bisect_right(cumulative, rng.random() * total), last) for _ in range(TABLE_SIZE)
    ]
