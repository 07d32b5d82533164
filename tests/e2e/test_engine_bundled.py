"""The engine drives the bundled server (spawned, as `mcpperf client` does by default)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_mcpperf import cli
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
    mix = (ToolCall("fast_compute", {"input": 5}, 4.0), ToolCall("async_io", {"delay_ms": 5}),
           ToolCall("cpu_intensive", {"size": 5}),
           # 2026-07-28 has no sessions: state is named by an explicit id
           ToolCall("session_counter", {"increment": 1, "counter_id": "load"}))
    spec = LoadSpec(url=bundled.url, rate=200.0, duration_s=1.5, concurrency=8, mix=mix,
                    protocol=protocol, server_pid=bundled.pid, seed=2)
    result = run(spec)
    assert result.requests.failed == 0, result.errors_by_code
    assert result.requests.ok == 300
    assert set(result.per_tool) == {"fast_compute", "async_io", "cpu_intensive",
                                    "session_counter"}
    want = "2026-07-28" if protocol == "auto" else "2025"
    assert result.target.protocol_version.startswith(want)
    assert result.server.rss_mb.peak > 10


def test_closed_loop_users_each_with_a_session(bundled: SpawnedServer) -> None:
    spec = LoadSpec(url=bundled.url, pattern="concurrent", users=8, duration_s=1.0,
                    arguments={"input": 3}, protocol="legacy")
    result = run(spec)
    assert result.requests.failed == 0, result.errors_by_code
    assert result.requests.ok > 50
    assert result.requests.connections_opened == 8


@pytest.mark.parametrize("argv", [
    ["throughput", "--requests-per-second", "200"],
    ["latency", "--io-delay-ms", "20", "--requests-per-second", "50"],
    ["stress", "--computation-size", "10", "--requests-per-second", "50"],
    ["memory", "--mb-per-request", "1", "--requests-per-second", "10"],
    ["burst", "--burst-size", "20", "--burst-interval-seconds", "0.5"],
    ["concurrent", "--concurrency", "4"],
])
def test_every_client_subcommand(bundled: SpawnedServer, argv: list[str],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["client", *argv, "--server-url", bundled.url, "--duration-seconds", "1",
                   "--json"])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert rc == 0, report["errors_by_code"]
    assert report["requests"]["failed"] == 0
    assert report["requests"]["ok"] > 0


def test_spawns_the_bundled_server_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mcpperf_server")
    rc = cli.main(["client", "memory", "--mb-per-request", "1", "--requests-per-second",
                   "20", "--duration-seconds", "1", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert report["target"]["pid"] > 0
    assert report["server"]["rss_mb"]["peak"] > 10
    assert report["memory"]["verdict"] in ("stable", "moderate", "leak")


def test_two_generator_processes_merge_exactly(bundled: SpawnedServer) -> None:
    spec = LoadSpec(url=bundled.url, rate=200.0, duration_s=1.0, concurrency=4, processes=2,
                    arguments={"input": 5})
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
