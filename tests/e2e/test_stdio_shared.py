"""Several runs at once over one stdio server's pipes (`engine.stdio.StdioPipe`).

Two loads against one process, each in its own thread and event loop (or both in one
loop): every response reaches the run that sent its request, and a run that ends
before the other leaves the pipe working for it. Also the control path (a Target's
protocol version) over the target's own pipes. Every test is bounded in time.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_mcpperf.engine.runner import arun, run
from pytest_mcpperf.engine.wire import probe_version
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import Target
from pytest_mcpperf.vocabulary import LEGACY

pytestmark = pytest.mark.e2e

SERVER = str(Path(__file__).with_name("stdio_server.py"))


def _spawn(*flags: str) -> Target:
    return Target.spawn([sys.executable, SERVER, *flags], transport="stdio")


def _spec(target: Target, rate: float, duration_s: float) -> LoadSpec:
    return LoadSpec(
        url=target.url,
        transport="stdio",
        server_pid=target.pid,
        rate=rate,
        duration_s=duration_s,
        concurrency=16,
        timeout_s=5.0,
        tool="echo",
    )


def _ok(result: LoadResult, expected: int) -> None:
    assert result.requests.failed == 0, result.report.get("errors")
    assert result.requests.ok == expected
    assert result.report["target"]["stdio"]["unmatched_responses"] == 0


def test_two_runs_in_two_threads_share_one_server() -> None:
    """The first run (which reads the pipe) ends first: the second keeps working."""
    results: dict[str, LoadResult] = {}
    errors: list[BaseException] = []

    def load(name: str, spec: LoadSpec, delay_s: float) -> None:
        time.sleep(delay_s)
        try:
            results[name] = run(spec)
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)

    with _spawn("--delay-ms", "5") as target:
        threads = [
            threading.Thread(target=load, args=("short", _spec(target, 200.0, 1.5), 0.0)),
            threading.Thread(target=load, args=("long", _spec(target, 100.0, 3.0), 0.3)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30.0)
        assert not any(t.is_alive() for t in threads)
        assert not errors, errors
        _ok(results["short"], 300)
        _ok(results["long"], 300)
        assert target.alive()


def test_two_runs_in_one_loop_share_one_server() -> None:
    async def both(target: Target) -> list[Any]:
        return list(
            await asyncio.gather(arun(_spec(target, 200.0, 1.0)), arun(_spec(target, 100.0, 2.0)))
        )

    with _spawn("--delay-ms", "5") as target:
        short, long = asyncio.run(both(target))
        _ok(short, 200)
        _ok(long, 200)


def test_protocol_version_is_negotiated_over_the_targets_pipes() -> None:
    with _spawn() as target:
        assert target.url.startswith("stdio:")
        target.version_probe = probe_version  # as the pytest front end's mcp_server has
        assert target.protocol_version == LEGACY  # the era this server speaks
        # the pipe still serves a run afterwards
        _ok(run(_spec(target, 100.0, 1.0)), 100)
