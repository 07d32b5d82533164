"""Both protocol eras on the wire, in process (Quart test client)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from .conftest import MODERN, call, modern_body, modern_headers, open_session, rpc

pytestmark = pytest.mark.asyncio


def sse_messages(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]


# -- legacy ----------------------------------------------------------------------------
async def test_initialize_mints_random_session_and_negotiates(app_client: Client) -> None:
    a, b = await open_session(app_client), await open_session(app_client)
    assert a.sid != b.sid
    assert len(a.sid) >= 32
    assert a.sid.isascii()
    assert a.sid.isprintable()
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "1999-01-01",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    data = await rpc(await app_client.post("/mcp", json=body))
    assert data["result"]["protocolVersion"] == "2025-11-25"
    assert data["result"]["capabilities"]["tools"] == {"listChanged": True}


async def test_legacy_ping_initialized_and_set_level(app_client: Client) -> None:
    s = await open_session(app_client)
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await app_client.post("/mcp", json=note, headers=s.headers)).status_code == 202
    assert (await rpc(await s.request("ping", msg_id="p")))["result"] == {}
    assert (await rpc(await s.request("logging/setLevel", {"level": "debug"})))["result"] == {}
    bad = await rpc(await s.request("logging/setLevel", {"level": "loud"}))
    assert bad["error"]["code"] == -32602


async def test_legacy_unknown_method_and_delete(app_client: Client) -> None:
    s = await open_session(app_client)
    assert (await rpc(await s.request("nope/nope")))["error"]["code"] == -32601
    assert (await app_client.delete("/mcp", headers=s.headers)).status_code == 200
    gone = await s.request("ping")
    assert gone.status_code == 404
    assert "initialize" in (await rpc(gone))["error"]["message"]
    assert (await app_client.delete("/mcp", headers=s.headers)).status_code == 404


async def test_legacy_session_counter_is_per_session(app_client: Client) -> None:
    a, b = await open_session(app_client), await open_session(app_client)
    args = {"name": "session_counter", "arguments": {"increment": 4}}
    await a.request("tools/call", args)
    second = await rpc(await a.request("tools/call", args))
    other = await rpc(await b.request("tools/call", args))
    assert second["result"]["structuredContent"] == {"output": 8}
    assert other["result"]["structuredContent"] == {"output": 4}


async def test_legacy_cancellation_stops_the_work(app_client: Client) -> None:
    s = await open_session(app_client)
    slow = asyncio.ensure_future(
        s.request("tools/call", {"name": "async_io", "arguments": {"delay_ms": 20_000}}, msg_id=77)
    )
    await asyncio.sleep(0.1)
    note = {
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": 77, "reason": "test"},
    }
    assert (await app_client.post("/mcp", json=note, headers=s.headers)).status_code == 202
    resp = await asyncio.wait_for(slow, 5)
    assert (await rpc(resp))["error"]["code"] == -32800


# -- 2026-07-28 ------------------------------------------------------------------------
async def test_discover(app_client: Client) -> None:
    resp = await app_client.post(
        "/mcp", json=modern_body("server/discover"), headers=modern_headers("server/discover")
    )
    result = (await rpc(resp))["result"]
    assert "Mcp-Session-Id" not in resp.headers
    assert result["resultType"] == "complete"
    assert MODERN in result["supportedVersions"]
    assert "2025-11-25" in result["supportedVersions"]
    assert result["ttlMs"] > 0
    assert result["cacheScope"] == "public"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "mcpperf-server"


async def test_tools_list_cache_fields_and_bad_cursor(app_client: Client) -> None:
    resp = await app_client.post(
        "/mcp", json=modern_body("tools/list"), headers=modern_headers("tools/list")
    )
    result = (await rpc(resp))["result"]
    assert len(result["tools"]) == 7
    assert result["resultType"] == "complete"
    assert {"ttlMs", "cacheScope"} <= result.keys()
    resp = await app_client.post(
        "/mcp",
        json=modern_body("tools/list", {"cursor": "x"}),
        headers=modern_headers("tools/list"),
    )
    assert (await rpc(resp))["error"]["code"] == -32602


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Mcp-Method": None}, -32020),
        ({"Mcp-Method": "tools/list"}, -32020),
        ({"Mcp-Name": "perf_stats"}, -32020),
        ({"Mcp-Name": None}, -32020),
        ({"MCP-Protocol-Version": None}, -32020),
    ],
)
async def test_modern_header_rules(
    app_client: Client, change: dict[str, str | None], code: int
) -> None:
    body, headers = call("fast_compute", {"input": 1})
    for key, value in change.items():
        headers.pop(key)
        if value is not None:
            headers[key] = value
    resp = await app_client.post("/mcp", json=body, headers=headers)
    assert resp.status_code == 400
    assert (await rpc(resp))["error"]["code"] == code


async def test_modern_base64_name_header(app_client: Client) -> None:
    body, headers = call("fast_compute", {"input": 1})
    headers["Mcp-Name"] = "=?base64?ZmFzdF9jb21wdXRl?="
    assert (await app_client.post("/mcp", json=body, headers=headers)).status_code == 200


async def test_modern_missing_meta_and_unsupported_version(app_client: Client) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    resp = await app_client.post("/mcp", json=body, headers=modern_headers("tools/list"))
    assert resp.status_code == 400
    assert (await rpc(resp))["error"]["code"] == -32602
    headers = modern_headers("tools/list") | {"MCP-Protocol-Version": "2099-01-01"}
    resp = await app_client.post("/mcp", json=body, headers=headers)
    err = (await rpc(resp))["error"]
    assert resp.status_code == 400
    assert err["code"] == -32022
    assert err["data"]["requested"] == "2099-01-01"
    assert MODERN in err["data"]["supported"]


async def test_modern_unknown_method_get_delete(app_client: Client) -> None:
    resp = await app_client.post(
        "/mcp", json=modern_body("nope/nope"), headers=modern_headers("nope/nope")
    )
    assert resp.status_code == 404
    assert (await rpc(resp))["error"]["code"] == -32601
    headers = {"MCP-Protocol-Version": MODERN}
    assert (await app_client.get("/mcp", headers=headers)).status_code == 405
    assert (await app_client.delete("/mcp", headers=headers)).status_code == 405
    note = modern_body("notifications/cancelled", {"requestId": 3})
    del note["id"]
    resp = await app_client.post(
        "/mcp", json=note, headers=modern_headers("notifications/cancelled")
    )
    assert resp.status_code == 202


async def test_progress_streams_as_sse(app_client: Client) -> None:
    body, headers = call("async_io", {"delay_ms": 40}, msg_id="a")
    body["params"]["_meta"]["progressToken"] = "tok"
    resp = await app_client.post("/mcp", json=body, headers=headers)
    assert resp.content_type.startswith("text/event-stream")
    messages = sse_messages(await resp.get_data(as_text=False))
    progress = [m["params"]["progress"] for m in messages[:-1]]
    assert all(m["method"] == "notifications/progress" for m in messages[:-1])
    assert progress == sorted(progress)
    assert len(progress) >= 2
    assert messages[-1]["id"] == "a"
    assert messages[-1]["result"]["resultType"] == "complete"


async def test_fast_path_is_json(app_client: Client) -> None:
    body, headers = call("fast_compute", {"input": 5})
    resp = await app_client.post("/mcp", json=body, headers=headers)
    assert resp.content_type == "application/json"
    result = (await rpc(resp))["result"]
    output = result["structuredContent"]["output"]
    assert result["content"][0]["text"] == f"Computed result: {output}"
    assert json.loads(result["content"][1]["text"]) == result["structuredContent"]


async def test_legacy_progress_on_sse_keeps_session_header(app_client: Client) -> None:
    s = await open_session(app_client)
    resp = await s.request(
        "tools/call",
        {"name": "cpu_intensive", "arguments": {"size": 1}, "_meta": {"progressToken": 5}},
        msg_id=9,
    )
    assert resp.content_type.startswith("text/event-stream")
    assert resp.headers["Mcp-Session-Id"] == s.sid
    messages = sse_messages(await resp.get_data())
    assert [m["params"]["progress"] for m in messages[:-1]] == [0, 1]
    assert messages[-1]["id"] == 9
    assert "resultType" not in messages[-1]["result"]
