"""Fixtures for the bundled server's tests: an in-process app (Quart test client) and a real
server subprocess on a free port."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from mcpperf_server.app import create_app
from mcpperf_server.config import ServerConfig
from quart.typing import TestClientProtocol as Client

MODERN = "2026-07-28"
READY = re.compile(r"mcpperf-server listening on (http://\S+/mcp) \(pid (\d+)")


def modern_body(
    method: str, params: dict[str, Any] | None = None, msg_id: Any = 1
) -> dict[str, Any]:
    params = dict(params or {})
    params["_meta"] = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        **params.get("_meta", {}),
    }
    return {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}


def modern_headers(method: str, name: str | None = None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "MCP-Protocol-Version": MODERN,
        "Accept": "application/json, text/event-stream",
        "Mcp-Method": method,
    }
    if name is not None:
        headers["Mcp-Name"] = name
    return headers


def call(
    tool: str, arguments: dict[str, Any], msg_id: Any = 1
) -> tuple[dict[str, Any], dict[str, str]]:
    """A 2026-07-28 tools/call: (json body, headers)."""
    return (
        modern_body("tools/call", {"name": tool, "arguments": arguments}, msg_id),
        modern_headers("tools/call", tool),
    )


@dataclass
class Legacy:
    """A legacy session opened through the test client."""

    client: Client
    sid: str

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Mcp-Session-Id": self.sid,
            "MCP-Protocol-Version": "2025-11-25",
            "Accept": "application/json, text/event-stream",
        }

    async def request(
        self, method: str, params: dict[str, Any] | None = None, msg_id: Any = 1
    ) -> Any:
        body = {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params or {}}
        return await self.client.post("/mcp", json=body, headers=self.headers)


async def open_session(client: Client) -> Legacy:
    body = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    resp = await client.post("/mcp", json=body)
    assert resp.status_code == 200, await resp.get_data()
    return Legacy(client, resp.headers["Mcp-Session-Id"])


def small_config(**overrides: Any) -> ServerConfig:
    base: dict[str, Any] = {
        "memory_budget_mb": 64,
        "max_alloc_mb": 32,
        "max_sessions": 50,
        "max_body_bytes": 1 << 20,
        "session_idle_timeout_s": 60.0,
    }
    base.update(overrides)
    return ServerConfig(**base)


@contextlib.asynccontextmanager
async def client_for(config: ServerConfig) -> AsyncIterator[Client]:
    """An in-process server (startup/shutdown run) and a Quart test client for it."""
    app = create_app(config)
    async with app.test_app() as test_app:
        yield test_app.test_client()


@pytest_asyncio.fixture
async def app_client() -> AsyncIterator[Client]:
    async with client_for(small_config()) as client:
        yield client


async def rpc(resp: Any) -> dict[str, Any]:
    return json.loads(await resp.get_data())


@dataclass
class RunningServer:
    url: str
    pid: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])


def start_server(
    tmp: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 20
) -> RunningServer:
    """Spawn `python -m mcpperf_server` on a free port; wait for its readiness line."""
    log = tmp / f"server-{time.monotonic_ns()}.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcpperf_server", "--bind-address", "127.0.0.1:0", *args],
            stdout=sink,
            stderr=sink,
            env={**os.environ, **(env or {})},
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = READY.search(log.read_text(errors="replace"))
        if found:
            return RunningServer(found.group(1), int(found.group(2)), proc, log)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    stop_server(proc)
    raise AssertionError(f"server did not become ready: {log.read_text(errors='replace')}")


def stop_server(proc: subprocess.Popen[bytes], timeout: float = 10) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One real server for the socket-level tests of this run."""
    server = start_server(
        tmp_path_factory.mktemp("srv"),
        "--memory-budget-mb",
        "256",
        "--max-sessions",
        "5000",
        "--session-idle-timeout",
        "30",
    )
    yield server
    stop_server(server.proc)
