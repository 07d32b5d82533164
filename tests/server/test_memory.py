"""Acceptance 5: RSS after 10,000 sessions created and expired comes back within 10 %."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import psutil
import pytest

from .conftest import call, start_server, stop_server
from .rawhttp import hammer, read_response, request_bytes

IDLE_S = 6.0

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "memory-test", "version": "0"},
    },
}


def active_sessions(port: int) -> int:
    statuses_body = asyncio.run(_perf_stats(port))
    return int(
        json.loads(statuses_body)["result"]["structuredContent"]["output"]["active_sessions"]
    )


async def _perf_stats(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request_bytes(port, *call_parts()))
        return (await read_response(reader))[2]
    finally:
        writer.close()
        await writer.wait_closed()


def call_parts() -> tuple[dict[str, object], dict[str, str]]:
    return call("perf_stats", {})


def rss_mib(proc: psutil.Process) -> float:
    return float(proc.memory_info().rss) / 2**20


def wait_expired(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while active_sessions(port) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert active_sessions(port) == 0


@pytest.mark.e2e
@pytest.mark.slow
def test_rss_returns_after_10000_sessions_expire(tmp_path: Path) -> None:
    server = start_server(
        tmp_path, "--session-idle-timeout", str(IDLE_S), "--max-sessions", "20000"
    )
    try:
        proc = psutil.Process(server.pid)
        payload = request_bytes(server.port, INIT)
        assert set(asyncio.run(hammer(server.port, payload, 1000))) == {200}  # warm-up
        wait_expired(server.port)
        idle = rss_mib(proc)
        started = time.monotonic()
        statuses = asyncio.run(hammer(server.port, payload, 10_000))
        elapsed = time.monotonic() - started
        assert statuses.count(200) == 10_000
        live, peak = active_sessions(server.port), rss_mib(proc)
        assert live >= 8_000, f"sessions expired during creation ({elapsed:.1f}s)"
        wait_expired(server.port)
        time.sleep(0.3)
        after = rss_mib(proc)
        print(
            f"\nRSS idle {idle:.1f} MiB; {live} live sessions {peak:.1f} MiB; after expiry "
            f"{after:.1f} MiB ({(after / idle - 1) * 100:+.1f} %); 10,000 created in "
            f"{elapsed:.1f}s"
        )
        assert after <= idle * 1.10, (idle, peak, after)
    finally:
        stop_server(server.proc)
