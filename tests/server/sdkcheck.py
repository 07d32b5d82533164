"""What the official SDK client must see from the bundled server, whatever the transport:
the seven tools listed, each answering with its known value, errors with their codes.
Shared by the HTTP (`test_sdk_interop.py`) and stdio (`test_stdio.py`) tests."""

from __future__ import annotations

import math
import time
import uuid
import zlib
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

TOOLS = {
    "fast_compute",
    "cpu_intensive",
    "memory_allocate",
    "async_io",
    "session_counter",
    "perf_stats",
    "error_simulation",
}


def texts(result: Any) -> list[str]:
    return [block.text for block in result.content]


def expected_checksum(mb: int) -> int:
    buf = bytearray(mb << 20)
    buf[::4096] = b"\x01" * len(range(0, len(buf), 4096))
    return zlib.crc32(buf)


async def every_tool_answers(client: Client, *, legacy: bool) -> None:
    """List the tools and call each; `legacy`: counters are per session, else per id."""
    tools = await client.list_tools()
    assert {t.name for t in tools.tools} == TOOLS

    r = await client.call_tool("fast_compute", {"input": 21})
    value = 21 * math.factorial(100) % ((1 << 61) - 1)
    assert texts(r)[0] == f"Computed result: {value}"
    assert r.structured_content == {"output": value}
    assert (
        await client.call_tool("fast_compute", {"input": 22})
    ).structured_content != r.structured_content

    r = await client.call_tool("cpu_intensive", {"size": 2})
    assert r.structured_content == {"output": sum(i * i for i in range(2000)) % 1_000_003}

    r = await client.call_tool("memory_allocate", {"mb_size": 3})
    assert texts(r)[0] == f"Allocated 3 MB, checksum: {expected_checksum(3)}"

    start = time.monotonic()
    r = await client.call_tool("async_io", {"delay_ms": 60})
    assert time.monotonic() - start >= 0.06
    assert texts(r)[0] == "Async I/O completed after 60ms"

    counter = {} if legacy else {"counter_id": uuid.uuid4().hex}
    r1 = await client.call_tool("session_counter", {"increment": 2, **counter})
    r2 = await client.call_tool("session_counter", {"increment": 3, **counter})
    assert texts(r1)[0] == "Session counter: 2 (incremented by 2)"
    assert texts(r2)[0] == "Session counter: 5 (incremented by 3)"

    stats = (await client.call_tool("perf_stats", {})).structured_content["output"]
    assert stats["requests_per_tool"]["fast_compute"] >= 2
    assert stats["uptime_s"] > 0
    assert stats["rss_mb"] > 10

    r = await client.call_tool("error_simulation", {"error_type": "success"})
    assert not r.is_error
    assert texts(r)[0] == "Error simulation: success"
    r = await client.call_tool("error_simulation", {"error_type": "invalid"})
    assert r.is_error
    with pytest.raises(MCPError) as err:
        await client.call_tool("error_simulation", {"error_type": "protocol"})
    assert err.value.code == -32001
    with pytest.raises(MCPError) as err:
        await client.call_tool("error_simulation", {"error_type": "internal"})
    assert err.value.code == -32603
    r = await client.call_tool("error_simulation", {"error_type": "timeout", "timeout_ms": 30})
    assert not r.is_error
    with pytest.raises(MCPError) as err:
        await client.call_tool("fast_compute", {"input": "seven"})
    assert err.value.code == -32602
    # the server is still answering after every error above
    assert (await client.call_tool("fast_compute", {"input": 1})).structured_content
