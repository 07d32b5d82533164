"""The stdio transport against a small stdio server built here (`stdio_server.py`).

Each test spawns the server with `Target.spawn(..., transport="stdio")`, as the front
ends do, and runs the engine over its pipes. Every test is bounded in time.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_mcpperf.engine.runner import run
from pytest_mcpperf.errors import ConfigError, TargetError
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import Target

pytestmark = pytest.mark.e2e

SERVER = str(Path(__file__).with_name("stdio_server.py"))


def _spawn(*flags: str) -> Target:
    return Target.spawn([sys.executable, SERVER, *flags], transport="stdio")


def _spec(target: Target, **kw: Any) -> LoadSpec:
    base: dict[str, Any] = {
        "rate": 200.0,
        "duration_s": 2.0,
        "concurrency": 32,
        "timeout_s": 5.0,
        "tool": "echo",
    }
    base.update(kw)
    return LoadSpec(url=target.url, transport="stdio", server_pid=target.pid, **base)


def test_latency_is_the_servers_delay() -> None:
    """D = 50 ms without blocking, 200 rps, 32 requests in flight on one process."""
    with _spawn("--delay-ms", "50") as target:
        result = run(_spec(target, duration_s=3.0))
    assert result.requests.failed == 0
    assert result.requests.ok == 600
    assert result.latency_ms.p50 == pytest.approx(50, rel=0.10)
    # valid on a quiet host; contended when the hypervisor or other work took the CPUs
    # (said so, with steal and other work measured): never client_bound
    assert result.accuracy.verdict in ("valid", "contended"), result.accuracy.reason
    assert result.report["target"]["transport"] == "stdio"
    assert result.report["server"]["rss_mb"]["peak"] > 0  # sampled from the process


@pytest.mark.slow
def test_coordinated_omission_is_corrected_over_stdio() -> None:
    """500 ms freeze every 2 s at 200 rps: the true p90/p99/max are 300/480/500 ms."""
    with _spawn("--freeze-every-ms", "2000", "--freeze-for-ms", "500") as target:
        result = run(_spec(target, duration_s=8.0, concurrency=10, timeout_s=10.0))
    lat, svc = result.latency_ms, result.service_time_ms
    assert result.requests.failed == 0
    assert result.requests.ok == 1600
    assert lat.p90 == pytest.approx(300, rel=0.10)
    assert lat.p99 == pytest.approx(480, rel=0.10)
    assert lat.max == pytest.approx(500, rel=0.10)
    assert svc.p90 < 5.0
    # valid on a quiet host; contended when the hypervisor or other work took the CPUs
    # (said so, with steal and other work measured): never client_bound
    assert result.accuracy.verdict in ("valid", "contended"), result.accuracy.reason


def test_server_requests_are_answered_and_notifications_counted() -> None:
    with _spawn("--chatter") as target:
        result = run(_spec(target, duration_s=1.0))
    stdio = result.report["target"]["stdio"]
    assert result.requests.failed == 0
    assert result.requests.ok == 200
    # one ping and one notification before each answer, the handshake's and tools/list's too
    assert stdio["server_requests_by_method"]["ping"] >= 200
    assert stdio["notifications"] >= 200
    assert stdio["unmatched_responses"] == 0


def test_a_full_stderr_pipe_does_not_stall_the_server() -> None:
    with _spawn("--stderr-kib", "512") as target:
        result = run(_spec(target, duration_s=1.0))
        assert "noise" in target.output_tail()
    assert result.requests.ok == 200


def test_a_dying_server_fails_requests_and_shows_its_stderr() -> None:
    with _spawn("--die-after", "50") as target:
        result = run(_spec(target, duration_s=1.0))
        assert result.requests.ok == 50
        assert result.requests.errors.transport == 150
        with pytest.raises(TargetError, match="dying on purpose"):
            target.check_alive()


def test_a_line_over_the_limit_is_a_transport_error() -> None:
    with _spawn("--long-line") as target:
        spec = _spec(target, rate=20.0, duration_s=0.5, extra={"stdio_max_line_bytes": 1 << 20})
        result = run(spec)
    assert result.requests.ok == 0
    assert result.report["errors_by_code"]["transport"].get("line_too_long", 0) >= 1


def test_other_request_kinds_and_a_mix() -> None:
    with _spawn() as target:
        read = run(_spec(target, method="resources/read", params={"uri": "mem://a"}))
        prompt = run(_spec(target, method="prompts/get", params={"name": "hello"}))
    assert read.requests.ok == 400
    assert "resources/read mem://a" in read.report["per_tool"]
    assert prompt.requests.ok == 400


def test_an_unknown_tool_fails_before_load_naming_what_the_server_offers() -> None:
    with _spawn() as target, pytest.raises(ConfigError, match=r"no tool 'nope'.*echo"):
        run(_spec(target, tool="nope", duration_s=30.0))


def test_without_a_front_end_the_transport_spawns_its_own_server() -> None:
    spec = LoadSpec(
        url="stdio:", transport="stdio", server_cmd=(sys.executable, SERVER), tool="echo"
    )
    result = run(spec.replace(rate=100.0, duration_s=1.0))
    assert result.requests.ok == 100
