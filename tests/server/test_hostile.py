"""Acceptance 3: malformed and hostile traffic is refused promptly and clearly, and the
server keeps answering. In process where the class allows it, real sockets where it needs them.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import httpx
import pytest
from quart.typing import TestClientProtocol as Client

from .conftest import (
    RunningServer,
    call,
    client_for,
    modern_body,
    modern_headers,
    open_session,
    rpc,
    small_config,
)
from .rawhttp import hammer, request_bytes

pytestmark = pytest.mark.asyncio
JSON_HEADERS = {"Content-Type": "application/json"}


async def still_serving(client: Client) -> None:
    body, headers = call("fast_compute", {"input": 3})
    resp = await client.post("/mcp", json=body, headers=headers)
    assert resp.status_code == 200
    assert "result" in await rpc(resp)


async def post_raw(client: Client, data: bytes, headers: dict[str, str] | None = None) -> Any:
    return await client.post("/mcp", data=data, headers=headers or JSON_HEADERS)


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b'{"jsonrpc": "2.0", "id": 1, "method": ', 400, -32700),  # malformed JSON
        (b"\xff\xfe{not utf8}", 400, -32700),  # invalid UTF-8
        (b'{"jsonrpc":"2.0","id":1,"method":"ping","x":"\xc3\x28"}', 400, -32700),
        (b"[" * 100_000 + b"]" * 100_000, 400, -32700),  # deeply nested
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, 400, -32700),
        (b'{"jsonrpc":"2.0","id":' + b"9" * 5000 + b',"method":"ping"}', 400, -32700),
        (b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', 400, -32600),  # batch
        (b"[]", 400, -32600),
        (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', 400, -32600),  # null id
        (b'{"jsonrpc":"2.0","id":true,"method":"ping"}', 400, -32600),
        (b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', 400, -32600),
        (b'{"jsonrpc":"1.0","id":1,"method":"ping"}', 400, -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":7}', 400, -32600),
        (b'"just a string"', 400, -32600),
        (b"", 400, -32700),
    ],
)
async def test_malformed_bodies(app_client: Client, data: bytes, status: int, code: int) -> None:
    resp = await post_raw(app_client, data)
    body = await rpc(resp)
    assert (resp.status_code, body["error"]["code"]) == (status, code)
    assert body["id"] is None or code != -32700
    await still_serving(app_client)


async def test_unknown_methods(app_client: Client) -> None:
    for method in ("tools/explode", "initialize/again", "../../etc/passwd", "x" * 10_000):
        resp = await app_client.post(
            "/mcp", json=modern_body(method), headers=modern_headers(method[:200])
        )
        assert resp.status_code in (400, 404)
    s = await open_session(app_client)
    assert (await rpc(await s.request("resources/list")))["error"]["code"] == -32601


async def test_sessions_missing_unknown_expired() -> None:
    async with client_for(small_config(session_idle_timeout_s=0.2)) as client:
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        resp = await client.post("/mcp", json=ping)
        assert resp.status_code == 400
        assert "Mcp-Session-Id" in (await rpc(resp))["error"]["message"]
        resp = await client.post("/mcp", json=ping, headers={"Mcp-Session-Id": "forged"})
        assert resp.status_code == 404
        s = await open_session(client)
        assert (await s.request("ping")).status_code == 200
        await asyncio.sleep(0.45)
        assert (await s.request("ping")).status_code == 404
        await still_serving(client)


@pytest.mark.parametrize("version", ["1999-01-01", "2026-07-28x", "", "garbage" * 100])
async def test_bad_version_headers(app_client: Client, version: str) -> None:
    s = await open_session(app_client)
    headers = s.headers | {"MCP-Protocol-Version": version}
    resp = await app_client.post(
        "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers
    )
    assert resp.status_code == 400
    assert (await rpc(resp))["error"]["code"] == -32022


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("memory_allocate", {"mb_size": 10**9}),  # memory bomb
        ("memory_allocate", {"mb_size": -1}),
        ("cpu_intensive", {"size": 10**12}),  # CPU bomb
        ("async_io", {"delay_ms": 10**10}),  # sleep bomb
        ("fast_compute", {"input": 2**200}),  # huge integer
        ("fast_compute", {"input": "21"}),  # wrong types
        ("fast_compute", {"input": True}),
        ("fast_compute", {"input": 1.5}),
        ("fast_compute", {"input": [1]}),
        ("fast_compute", {}),
        ("session_counter", {"increment": 1, "counter_id": 5}),
        ("session_counter", {"increment": 1, "counter_id": "x" * 10_000}),
        ("error_simulation", {"error_type": "meltdown"}),
        ("error_simulation", {"error_type": "timeout", "timeout_ms": 10**9}),
        ("no_such_tool", {}),
    ],
)
async def test_bombs_and_bad_arguments_are_invalid_params(
    app_client: Client, tool: str, args: dict[str, Any]
) -> None:
    body, headers = call(tool, args)
    start = time.monotonic()
    resp = await app_client.post("/mcp", json=body, headers=headers)
    assert time.monotonic() - start < 1
    error = (await rpc(resp))["error"]
    assert error["code"] == -32602
    assert error["message"]
    await still_serving(app_client)


async def test_arguments_not_an_object(app_client: Client) -> None:
    body, headers = call("fast_compute", {})
    body["params"]["arguments"] = [1, 2]
    assert (await rpc(await app_client.post("/mcp", json=body, headers=headers)))["error"][
        "code"
    ] == -32602


async def test_cpu_pool_cap_refuses_promptly() -> None:
    async with client_for(small_config(max_cpu_queue=2, cpu_workers=1)) as client:
        body, headers = call("cpu_intensive", {"size": 300})
        replies = await asyncio.gather(
            *[client.post("/mcp", json=body, headers=headers) for _ in range(8)]
        )
        statuses = sorted(r.status_code for r in replies)
        assert statuses.count(200) >= 2
        assert 503 in statuses
        refused = next(r for r in replies if r.status_code == 503)
        assert refused.headers["Retry-After"] == "1"
        assert "CPU pool full" in (await rpc(refused))["error"]["message"]
        await still_serving(client)


async def test_session_cap_then_recovery_after_expiry() -> None:
    async with client_for(small_config(max_sessions=20, session_idle_timeout_s=0.2)) as client:
        for _ in range(20):
            await open_session(client)
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        }
        refused = await client.post("/mcp", json=body)
        assert refused.status_code == 503
        assert "Retry-After" in refused.headers
        assert "--max-sessions" in (await rpc(refused))["error"]["message"]
        await asyncio.sleep(0.3)
        assert (await client.post("/mcp", json=body)).status_code == 200


async def test_origin_and_host_checks(app_client: Client) -> None:
    body, headers = call("fast_compute", {"input": 1})
    evil = await app_client.post(
        "/mcp", json=body, headers=headers | {"Origin": "http://evil.example"}
    )
    assert evil.status_code == 403
    ok = await app_client.post(
        "/mcp", json=body, headers=headers | {"Origin": "http://localhost:3000"}
    )
    assert ok.status_code == 200
    rebound = await app_client.post("/mcp", json=body, headers=headers | {"Host": "evil.example"})
    assert rebound.status_code == 421


async def test_error_simulation_overload_is_503(app_client: Client) -> None:
    body, headers = call("error_simulation", {"error_type": "overload"})
    resp = await app_client.post("/mcp", json=body, headers=headers)
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "1"
    assert (await rpc(resp))["error"]["code"] == -32000


# -- real sockets ------------------------------------------------------------------------
def _post(
    url: str, body: dict[str, Any], headers: dict[str, str], timeout: float = 10
) -> httpx.Response:
    with httpx.Client(timeout=timeout) as client:
        return client.post(url, content=json.dumps(body), headers=headers)


@pytest.mark.e2e
async def test_20mb_body_is_413_and_server_lives(live_server: RunningServer) -> None:
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + b"a" * (20 << 20) + b'"}}'
    start = time.monotonic()
    async with httpx.AsyncClient(timeout=10) as client:
        try:
            resp = await client.post(live_server.url, content=body, headers=JSON_HEADERS)
            assert resp.status_code == 413
        except httpx.TransportError:
            pass  # the server may answer 413 and close before the upload ends
    assert time.monotonic() - start < 5
    resp = _post(live_server.url, *call("fast_compute", {"input": 1}))
    assert resp.status_code == 200


@pytest.mark.e2e
async def test_chunked_oversize_body_is_refused(live_server: RunningServer) -> None:
    async def chunks() -> Any:
        for _ in range(40):
            yield b"a" * (1 << 20)

    async with httpx.AsyncClient(timeout=10) as client:
        try:
            resp = await client.post(live_server.url, content=chunks(), headers=JSON_HEADERS)
            assert resp.status_code == 413
        except httpx.TransportError:
            pass
    assert _post(live_server.url, *call("fast_compute", {"input": 2})).status_code == 200


@pytest.mark.e2e
async def test_40_concurrent_200mb_allocations(live_server: RunningServer) -> None:
    """Budget 256 MiB: one 200 MiB call fits at a time, the rest are refused at once."""
    body, headers = call("memory_allocate", {"mb_size": 200})
    start = time.monotonic()
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=40)) as c:
        replies = await asyncio.gather(
            *[c.post(live_server.url, json=body, headers=headers) for _ in range(40)]
        )
    assert time.monotonic() - start < 15
    statuses = [r.status_code for r in replies]
    assert set(statuses) <= {200, 503}
    assert statuses.count(200) >= 1
    assert statuses.count(503) >= 30
    assert all(
        "memory budget" in r.json()["error"]["message"] for r in replies if r.status_code == 503
    )
    stats = _post(live_server.url, *call("perf_stats", {})).json()["result"]
    out = stats["structuredContent"]["output"]
    assert out["memory_budget_mb"]["in_use"] == 0
    assert out["rss_mb"] < 600


@pytest.mark.e2e
async def test_thousands_of_abandoned_sessions(live_server: RunningServer) -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "abandon", "version": "0"},
        },
    }
    statuses = await hammer(live_server.port, request_bytes(live_server.port, init), 3000)
    assert statuses.count(200) == 3000
    stats = _post(live_server.url, *call("perf_stats", {})).json()["result"]
    assert stats["structuredContent"]["output"]["active_sessions"] >= 3000
    resp = _post(live_server.url, *call("fast_compute", {"input": 9}))
    assert resp.status_code == 200


@pytest.mark.e2e
async def test_slow_header_connections_beside_normal_traffic(live_server: RunningServer) -> None:
    socks = []
    try:
        for _ in range(100):  # slowloris: headers that never finish
            s = socket.create_connection(("127.0.0.1", live_server.port))
            s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            socks.append(s)
        body, headers = call("fast_compute", {"input": 4})
        async with httpx.AsyncClient(timeout=5) as client:
            for i in range(40):
                for s in socks[: i % 3]:
                    s.sendall(b"a")
                start = time.monotonic()
                resp = await client.post(live_server.url, json=body, headers=headers)
                assert resp.status_code == 200
                assert time.monotonic() - start < 1
    finally:
        for s in socks:
            s.close()


@pytest.mark.e2e
async def test_disconnect_and_internal_errors_leave_server_up(live_server: RunningServer) -> None:
    body, headers = call("error_simulation", {"error_type": "disconnect"})
    with pytest.raises(httpx.TransportError):
        _post(live_server.url, body, headers, timeout=5)
    body, headers = call("error_simulation", {"error_type": "internal"})
    assert _post(live_server.url, body, headers).json()["error"]["code"] == -32603
    assert _post(live_server.url, *call("fast_compute", {"input": 5})).status_code == 200
    log = live_server.log.read_text()
    assert "Traceback" not in log


@pytest.mark.e2e
async def test_modern_closed_stream_cancels_the_work(live_server: RunningServer) -> None:
    """2026-07-28: closing the response stream is the cancellation."""
    body, headers = call("async_io", {"delay_ms": 20_000})
    _reader, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
    writer.write(request_bytes(live_server.port, body, headers))
    await writer.drain()
    await asyncio.sleep(0.3)

    def in_flight() -> int:
        stats = _post(live_server.url, *call("perf_stats", {})).json()["result"]
        return int(stats["structuredContent"]["output"]["in_flight"])

    assert in_flight() == 2  # the sleeper and this perf_stats call
    writer.close()
    await writer.wait_closed()
    for _ in range(50):
        if in_flight() == 1:
            break
        await asyncio.sleep(0.05)
    assert in_flight() == 1


async def test_in_flight_cap_refuses_promptly() -> None:
    async with client_for(small_config(max_in_flight=3)) as client:
        body, headers = call("async_io", {"delay_ms": 300})
        replies = await asyncio.gather(
            *[client.post("/mcp", json=body, headers=headers) for _ in range(6)]
        )
        statuses = sorted(r.status_code for r in replies)
        assert statuses == [200, 200, 200, 503, 503, 503]
        refused = next(r for r in replies if r.status_code == 503)
        assert "--max-in-flight" in (await rpc(refused))["error"]["message"]
        await still_serving(client)


@pytest.mark.e2e
async def test_body_arriving_in_pieces_is_read_whole(live_server: RunningServer) -> None:
    body, headers = call("fast_compute", {"input": 8})
    data = json.dumps(body).encode()

    async def pieces() -> Any:
        for i in range(0, len(data), 16):
            await asyncio.sleep(0.005)
            yield data[i : i + 16]

    async with httpx.AsyncClient(timeout=5) as client:
        resp = await client.post(live_server.url, content=pieces(), headers=headers)
    assert resp.status_code == 200
    assert resp.json()["result"]["content"][0]["text"].startswith("Computed result: ")
