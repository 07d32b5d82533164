"""A server for the memory procedure without a network, shared by the memory tests.

`ChunkServer.run(spec)` stands in for the engine: it answers `rate * duration` requests at
once, all ok, and moves its clock (`now`) on by the spec's duration. `rss()` is
`rss_at(requests answered so far)`. It satisfies `analysis.server.MeasuredServer`.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec


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
