"""Memory test fakes: a server for the memory procedure without a network, and run
reports whose server RSS readings follow a given curve.

`ChunkServer.run(spec)` stands in for the engine: it answers `rate * duration` requests at
once, all ok, and moves its clock (`now`) on by the spec's duration. `rss()` is
`rss_at(requests answered so far)`. It satisfies `analysis.server.MeasuredServer`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.vocabulary import KIB, MIB


class ChunkServer:
    url = "http://127.0.0.1:1/mcp"
    pid: int | None = 4242

    def __init__(self, rss_at: Callable[[int], int]) -> None:
        self.rss_at = rss_at
        self.answered = 0
        self.now = 0.0

    def run(self, spec: LoadSpec) -> LoadResult:
        n = round(spec.rate * spec.duration_s)
        self.answered += n
        self.now += spec.duration_s
        return LoadResult(
            {
                "requests": {
                    "scheduled": n,
                    "sent": n,
                    "completed": n,
                    "ok": n,
                    "failed": 0,
                    "errors": {},
                }
            }
        )

    def rss(self) -> int:
        return self.rss_at(self.answered)

    def alive(self) -> bool:
        return True


RATE = 500  # requests per second


def run_report(rss_at: Callable[[float], float], seconds: int = 6) -> dict[str, Any]:
    """A run's report: RATE ok requests a second, the monitor's reading every 0.25 s."""
    return {
        "config": {"warmup_s": 0.0},
        "duration_s": float(seconds),
        "requests": {"ok": RATE * seconds, "failed": 0},
        "timeseries": [{"t": t, "ok": RATE, "failed": 0} for t in range(seconds)],
        "server": {
            "rss_mb": {"peak": rss_at(seconds) / MIB},
            "series": [
                {"t": k / 4, "rss_bytes": int(rss_at(k / 4)), "cpu_percent": None}
                for k in range(4 * seconds + 1)
            ],
        },
        "accuracy": {"verdict": "valid"},
    }


def leaking(t: float) -> float:  # keeps 4 KiB per call
    return 40 * MIB + 4 * KIB * RATE * t


def plateau(t: float) -> float:  # fills a 50 MB cache in its first 2 s, then flat
    return 30 * MIB + 50 * MIB * min(t, 2.0) / 2.0


def flat(t: float) -> float:
    return 40 * MIB + (64 * KIB if int(t * 4) % 2 else 0)
