"""One RSS series, one memory verdict: `mcpperf memory`, `mcpperf client memory` and the
`memory_series` fixture all judge it with `analysis.memory.analyze`.

The series grows 3 KiB per request, 29 % over the run: a slope below a leak's, so
"moderate" (the client's old start-to-end rule called 25 % growth a leak).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_mcpperf.analysis.memory import (
    MemorySample,
    analyze,
    leak_plan,
    measure,
)
from pytest_mcpperf.cli import build_parser
from pytest_mcpperf.cli import client as cli_client
from pytest_mcpperf.cli import memory as cli_memory
from pytest_mcpperf.fixtures import MemorySeries
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.vocabulary import KIB, MIB
from tests.memfakes import ChunkServer

RATE = 100  # requests per second
SERIES = [MemorySample(n, 10 * MIB + 3 * KIB * n, n / RATE) for n in range(0, 1001, 100)]


class ReplayServer(ChunkServer):
    """A server whose RSS is SERIES at the requests it answered since time zero (the
    first reading, taken after warm-up)."""

    def __init__(self) -> None:
        super().__init__(self.replay)
        self.t0_answered: int | None = None

    def replay(self, answered: int) -> int:
        if self.t0_answered is None:
            self.t0_answered = answered
        return next(s.rss_bytes for s in SERIES if s.requests == answered - self.t0_answered)


def cli_memory_verdict(capsys: pytest.CaptureFixture[str]) -> str:
    args = build_parser().parse_args(
        ["--json", "memory", "leak-detection", "--iterations", "1000", "--rate", str(RATE)]
    )
    server = ReplayServer()
    base = LoadSpec(url=server.url, rate=float(RATE))
    plan = leak_plan(1000)
    plan.chunks = [100] * 10  # one sample per point of SERIES
    m = measure(server, base, plan, server.run, args.warmup_requests, lambda: server.now)
    assert [(s.requests, s.rss_bytes) for s in m.samples] == [
        (s.requests, s.rss_bytes) for s in SERIES
    ]
    cli_memory.finish(args, server, base, m, print)
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return str(report["memory"]["verdict"])


def client_memory_verdict() -> str:
    """The run report of `mcpperf client memory`: the monitor's readings, once a second."""
    report = {
        "config": {"warmup_s": 0.0},
        "timeseries": [{"t": t, "ok": RATE, "failed": 0} for t in range(10)],
        "server": {
            "series": [{"t": s.t, "rss_bytes": s.rss_bytes, "cpu_percent": None} for s in SERIES]
        },
    }
    return str(cli_client.memory_summary(report)["verdict"])


def fixture_verdict() -> str:
    server = ReplayServer()
    recorded: list[LoadResult] = []

    def record(result: Any) -> LoadResult:
        recorded.append(LoadResult(result))
        return recorded[-1]

    series = MemorySeries(server, server.run, record, clock=lambda: server.now)
    result = series(LoadSpec(url=server.url, rate=float(RATE), duration_s=10.0), chunks=10)
    assert recorded == [result]
    return str(result.memory.verdict)


def test_one_series_gets_one_verdict_through_every_front_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    expected = analyze(SERIES).verdict
    assert expected == "moderate"
    assert cli_memory_verdict(capsys) == expected
    assert client_memory_verdict() == expected
    assert fixture_verdict() == expected
