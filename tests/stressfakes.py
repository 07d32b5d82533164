"""Stress test fakes: an engine whose probes answer with scripted p99s and whose stress
runs answer with fixed counts, a server the procedure can watch, and a stress run that
kills that server. Shared by the stress procedure's tests and `mcpperf stress`'s."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pytest_mcpperf.errors import TargetError
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec

URL = "http://127.0.0.1:1/mcp"

#: what every stress run answers: 1000 requests, 960 ok, 40 tool errors
STRESS_REQUESTS = {
    "scheduled": 1000,
    "sent": 1000,
    "completed": 1000,
    "ok": 960,
    "failed": 40,
    "errors": {"tool_error": 40},
}


class ScriptedEngine:
    """Probes answer with the scripted p99s in turn; the stress run with fixed counts.
    Its clock moves on by each run's duration."""

    def __init__(self, probe_p99: list[float]) -> None:
        self.probe_p99 = list(probe_p99)
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def run_many(self, specs: Sequence[LoadSpec]) -> list[LoadResult]:
        self.now += specs[0].duration_s
        if specs[0].scenario == "stress probe":
            p99 = self.probe_p99.pop(0)
            return [LoadResult({"requests": {"ok": 20, "failed": 0}, "latency_ms": {"p99": p99}})]
        return [LoadResult({"requests": dict(STRESS_REQUESTS)}) for _ in specs]


class FakeServer:
    """A server at URL (pid 1) that is alive until a test sets `dead`."""

    url = URL
    pid: int | None = 1

    def __init__(self) -> None:
        self.dead = False

    def alive(self) -> bool:
        return not self.dead

    def rss(self) -> int:
        return 0


def killing_stress(
    engine: ScriptedEngine, server: FakeServer
) -> Callable[[Sequence[LoadSpec]], list[LoadResult]]:
    """`engine.run_many`, except that the stress run kills `server` and fails to start."""

    def run_many(specs: Sequence[LoadSpec]) -> list[LoadResult]:
        if specs[0].scenario != "stress probe":
            server.dead = True
            raise TargetError("cannot start an MCP session: connection refused")
        return engine.run_many(specs)

    return run_many
