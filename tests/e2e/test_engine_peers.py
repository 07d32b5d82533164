"""The engine against real peers: the official SDK's MCPServer and nginx-mcp.

The reference servers live in the shared bench directory
(``${MCPPERF_BENCH_DIR:-../shared/bench}`` from the repository root); tests skip when
it or nginx is missing.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_mcpperf.engine.runner import run
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import SpawnedServer

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BENCH = Path(os.environ.get("MCPPERF_BENCH_DIR", REPO.parent / "shared" / "bench"))


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} not found (set MCPPERF_BENCH_DIR)")


@pytest.fixture(scope="module", params=["stateless-json", "stateful"])
def sdk_server(request: pytest.FixtureRequest) -> Iterator[SpawnedServer]:
    script = BENCH / "sdk_server.py"
    _need(script)
    pytest.importorskip("mcp")
    with SpawnedServer(
        [sys.executable, str(script), "{port}", request.param], startup_timeout_s=30.0
    ) as server:
        yield server


@pytest.fixture(scope="module")
def nginx_mcp() -> Iterator[SpawnedServer]:
    script = BENCH / "nginx-mcp" / "run.sh"
    _need(script)
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    with SpawnedServer([str(script), "{port}"]) as server:
        yield server


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
def test_sdk_server_open_loop_without_errors(sdk_server: SpawnedServer, protocol: str) -> None:
    spec = LoadSpec(
        url=sdk_server.url,
        rate=100.0,
        duration_s=1.5,
        concurrency=4,
        tool="fast_compute",
        arguments={"input": 3},
        protocol=protocol,
        server_pid=sdk_server.pid,
    )
    result = run(spec)
    assert result.requests.failed == 0, result.errors_by_code
    assert result.requests.ok == 150
    if protocol == "legacy":
        assert result.target.protocol_version.startswith("2025")
    assert result.server.rss_mb.peak > 10


def test_sdk_server_closed_loop_users_each_with_a_session(sdk_server: SpawnedServer) -> None:
    spec = LoadSpec(
        url=sdk_server.url,
        pattern="concurrent",
        users=4,
        duration_s=1.0,
        tool="fast_compute",
        arguments={"input": 3},
        protocol="legacy",
    )
    result = run(spec)
    assert result.requests.failed == 0, result.errors_by_code
    assert result.requests.ok > 20
    assert result.requests.reinits == 0


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
def test_nginx_mcp_both_eras(nginx_mcp: SpawnedServer, protocol: str) -> None:
    result = run(LoadSpec(url=nginx_mcp.url, rate=500.0, duration_s=1.0, protocol=protocol))
    assert result.requests.ok == 500
    assert result.requests.failed == 0
    want = "2026-07-28" if protocol == "auto" else "2025-11-25"
    assert result.target.protocol_version == want


def test_nginx_mcp_two_generator_processes_merge(nginx_mcp: SpawnedServer) -> None:
    result = run(LoadSpec(url=nginx_mcp.url, rate=400.0, duration_s=1.0, processes=2))
    assert result.requests.scheduled == 400
    assert result.requests.ok == 400
    assert len(result.accuracy.client_cpu_percent_per_process) == 2
    assert sum(row["ok"] for row in result.timeseries) == 400
