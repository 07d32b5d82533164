"""Session journeys end to end: each user repeats open, tools/list, calls, close.

Against the bundled server (spawned through `Target`) in both protocol eras, and a
stdio server; 2 s of load each, every step counted and timed, no errors.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_mcpperf.engine.report import text_block
from pytest_mcpperf.engine.runner import run
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import Target

pytestmark = pytest.mark.e2e

CALLS = 3
USERS = 4
STDIO_SERVER = str(Path(__file__).with_name("stdio_server.py"))


def _spec(target: Target, **kw: Any) -> LoadSpec:
    base: dict[str, Any] = {
        "pattern": "journey",
        "users": USERS,
        "duration_s": 2.0,
        "journey_calls": CALLS,
        "tool": "fast_compute",
        "arguments": {"input": 5},
        "timeout_s": 5.0,
    }
    base.update(kw)
    return LoadSpec(url=target.url, server_pid=target.pid, **base)


def _check_steps(result: Any, *, closes: bool) -> dict[str, Any]:
    j = result.report["journey"]
    steps = j["steps"]
    n = j["journeys"]
    assert n > 20, j
    assert j["failed_journeys"] == 0
    assert j["journeys_per_s"] == pytest.approx(n / result.duration_s, rel=0.01)
    assert steps["open"]["count"] == n
    assert steps["list"]["count"] == n
    # a journey's calls stop when the run ends: the last ones of each user may be short
    assert CALLS * (n - USERS) <= steps["call"]["count"] <= CALLS * n
    assert steps["call"]["count"] == result.requests.ok
    assert steps["close"]["count"] == (n if closes else 0)
    for name, st in steps.items():
        assert st["failed"] == 0, (name, st)
        if st["count"]:
            lat = st["latency_ms"]
            assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"] < 1000, (name, lat)
    assert result.requests.failed == 0
    assert result.report["requests"]["connections_opened"] >= n
    return j


def test_journeys_over_http_legacy_sessions_are_opened_and_deleted() -> None:
    with Target.spawn() as target:
        result = run(_spec(target, protocol="legacy"))
    _check_steps(result, closes=True)
    text = text_block(result.report)
    assert "Journeys: " in text
    assert "  close: " in text


def test_journeys_in_the_2026_era_have_no_session_to_close() -> None:
    with Target.spawn() as target:
        result = run(_spec(target, protocol="modern"))
    assert result.report["target"]["era"] == "modern"
    _check_steps(result, closes=False)


def test_journeys_over_stdio_reopen_on_the_same_process() -> None:
    cmd = [sys.executable, STDIO_SERVER, "--delay-ms", "2"]
    with Target.spawn(cmd, transport="stdio") as target:
        result = run(_spec(target, transport="stdio", tool="echo", arguments={}))
        assert target.alive()
    _check_steps(result, closes=False)
