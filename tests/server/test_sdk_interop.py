"""Acceptance 1: the official SDK client (`mcp` 2.x) in every mode against a real server."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from .conftest import RunningServer
from .sdkcheck import every_tool_answers

pytestmark = pytest.mark.e2e

MODES = ["auto", "legacy", "2026-07-28"]


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", MODES)
async def test_sdk_lists_tools_and_every_tool_answers(
    live_server: RunningServer, mode: str
) -> None:
    async with Client(live_server.url, mode=mode) as client:
        expected_version = "2025-11-25" if mode == "legacy" else "2026-07-28"
        assert client.protocol_version == expected_version
        await every_tool_answers(client, legacy=mode == "legacy")


@pytest.mark.asyncio
async def test_sdk_modern_counter_needs_counter_id(live_server: RunningServer) -> None:
    async with Client(live_server.url, mode="2026-07-28") as client:
        with pytest.raises(MCPError) as err:
            await client.call_tool("session_counter", {"increment": 1})
        assert err.value.code == -32602
        assert "counter_id" in err.value.error.message
