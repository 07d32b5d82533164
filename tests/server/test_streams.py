"""The broadcast channel: legacy GET streams, 2026-07-28 subscriptions/listen, fan-out."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from mcpperf_server.broadcast import Broadcaster

from .conftest import RunningServer, modern_body, modern_headers

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e]
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "streams", "version": "0"},
    },
}


async def next_message(lines: Any) -> dict[str, Any]:
    async for line in lines:
        if line.startswith("data: "):
            return json.loads(line[6:])
    raise AssertionError("stream ended")


def broadcast_url(server: RunningServer) -> str:
    return server.url.replace("/mcp", "/mcpperf/broadcast")


async def test_legacy_get_stream_receives_broadcast(live_server: RunningServer) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        init = await client.post(live_server.url, json=INIT)
        headers = {
            "Mcp-Session-Id": init.headers["Mcp-Session-Id"],
            "MCP-Protocol-Version": "2025-11-25",
            "Accept": "text/event-stream",
        }
        async with client.stream("GET", live_server.url, headers=headers) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            second = await client.get(live_server.url, headers=headers)
            assert second.status_code == 409
            lines = stream.aiter_lines()
            sent = await client.post(broadcast_url(live_server), json={"data": {"n": 7}})
            assert sent.json()["delivered"] >= 1
            message = await asyncio.wait_for(next_message(lines), 5)
        assert message["method"] == "notifications/message"
        assert message["params"]["data"]["data"] == {"n": 7}
        assert message["params"]["data"]["seq"] == sent.json()["seq"]


async def test_modern_listen_ack_then_notifications(live_server: RunningServer) -> None:
    body = modern_body(
        "subscriptions/listen",
        {"notifications": {"toolsListChanged": True, "promptsListChanged": True}},
        msg_id="sub-1",
    )
    async with (
        httpx.AsyncClient(timeout=5) as client,
        client.stream(
            "POST", live_server.url, json=body, headers=modern_headers("subscriptions/listen")
        ) as stream,
    ):
        lines = stream.aiter_lines()
        ack = await asyncio.wait_for(next_message(lines), 5)
        assert ack["method"] == "notifications/subscriptions/acknowledged"
        assert ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "sub-1"
        assert ack["params"]["notifications"] == {"toolsListChanged": True}
        await client.post(broadcast_url(live_server))
        note = await asyncio.wait_for(next_message(lines), 5)
    assert note["method"] == "notifications/tools/list_changed"
    assert note["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "sub-1"
    assert note["params"]["_meta"]["mcpperf/seq"] >= 1


async def test_fan_out_to_many_listeners(live_server: RunningServer) -> None:
    body = modern_body("subscriptions/listen", {"notifications": {"toolsListChanged": True}})
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            httpx.AsyncClient(timeout=5, limits=httpx.Limits(max_connections=60))
        )
        streams = [
            await stack.enter_async_context(
                client.stream(
                    "POST",
                    live_server.url,
                    json=body,
                    headers=modern_headers("subscriptions/listen"),
                )
            )
            for _ in range(50)
        ]
        readers = [s.aiter_lines() for s in streams]
        for lines in readers:
            await asyncio.wait_for(next_message(lines), 5)  # the ack
        sent = (await client.post(broadcast_url(live_server))).json()
        assert sent["delivered"] >= 50
        got = await asyncio.wait_for(asyncio.gather(*[next_message(r) for r in readers]), 10)
    assert {m["params"]["_meta"]["mcpperf/seq"] for m in got} == {sent["seq"]}


async def test_broadcaster_in_process_drops_for_slow_subscribers() -> None:
    hub = Broadcaster(max_subscribers=3, queue_size=2)
    _, fast = hub.subscribe(lambda p: json.dumps(p).encode())
    _, slow = hub.subscribe(lambda p: b"x")
    for _ in range(2):
        assert hub.publish() == 2
        fast.get_nowait()
    assert hub.publish() == 1
    assert hub.dropped == 1
    assert slow.qsize() == 2
    assert hub.seq == 3


async def test_legacy_stream_honours_session_log_level(live_server: RunningServer) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        init = await client.post(live_server.url, json=INIT)
        headers = {
            "Mcp-Session-Id": init.headers["Mcp-Session-Id"],
            "MCP-Protocol-Version": "2025-11-25",
        }

        async def set_level(level: str) -> None:
            body = {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "logging/setLevel",
                "params": {"level": level},
            }
            assert (await client.post(live_server.url, json=body, headers=headers)).json()[
                "result"
            ] == {}

        await set_level("error")
        async with client.stream("GET", live_server.url, headers=headers) as stream:
            lines = stream.aiter_lines()
            await client.post(broadcast_url(live_server))  # info < error: not delivered
            await set_level("info")
            wanted = (await client.post(broadcast_url(live_server))).json()["seq"]
            message = await asyncio.wait_for(next_message(lines), 5)
    assert message["params"]["data"]["seq"] == wanted
