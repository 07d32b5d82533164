"""The engine drives the bundled server (spawned, as `mcpperf client` does by default)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_mcpperf.engine.runner import run
from pytest_mcpperf.spec import LoadSpec, ToolCall
from pytest_mcpperf.target import SpawnedServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def bundled() -> Iterator[SpawnedServer]:
    pytest.importorskip("mcpperf_server")
    with SpawnedServer(startup_timeout_s=30.0) as server:
        yield server


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
def test_mix_of_tools_without_errors(bundled: SpawnedServer, protocol: str) -> None:
    mix = (
        ToolCall("fast_compute", {"input": 5}, 4.0),
        ToolCall("async_io", {"delay_ms": 5}),
        ToolCall("cpu_intensive", {"size": 5}),
        # 2026-07-28 has no sessions: state is named by an explicit id
        ToolCall("session_counter", {"increment": 1, "counter_id": "load"}),
    )
    spec = LoadSpec(
        url=bundled.url,
        rate=200.0,
        duration_s=1.5,
        concurrency=8,
        mix=mix,
        protocol=protocol,
        server_pid=bundled.pid,
        seed=2,
    )
    result = run(spec)
    assert result.requests.failed == 0, result.errors_by_code
    assert result.requests.ok == 300
    assert set(result.per_tool) == {"fast_compute", "async_io", "cpu_intensive", "session_counter"}
    want = "2026-07-28" if protocol == "auto" else "2025"
    assert result.target.protocol_version.startswith(want)
    assert result.server.rss_mb.peak > 10


def test_closed_loop_users_each_with_a_session(bundled: SpawnedServer) -> None:
    spec = LoadSpec(
        url=bundled.url,
        pattern="concurrent",
        users=8,
        duration_s=1.0,
        arguments={"input": 3},
        protocol="legacy",
    )
    result = run(spec)
    assert result.requests.failed == 0, result.errors_by_code
    assert result.requests.ok > 50
    assert result.requests.connections_opened == 8


def test_two_generator_processes_merge_exactly(bundled: SpawnedServer) -> None:
    spec = LoadSpec(
        url=bundled.url,
        rate=200.0,
        duration_s=1.0,
        concurrency=4,
        processes=2,
        arguments={"input": 5},
    )
    result = run(spec)
    assert result.requests.failed == 0, result.errors_by_code
    assert result.requests.ok == 200  # each process sends its own half of one plan
    assert result.config["processes"] == 2


def test_the_control_path_negotiates_like_the_load_path(bundled: SpawnedServer) -> None:
    from pytest_mcpperf.engine import control

    info = control.probe(bundled.url)
    assert (info.era, info.protocol_version) == ("modern", "2026-07-28")
    tools = control.list_tools(bundled.url)
    assert {"fast_compute", "async_io", "memory_allocate"} <= tools
    assert control.list_names(bundled.url, "prompts/list") is not None
