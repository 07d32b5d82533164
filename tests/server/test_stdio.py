"""`python -m mcpperf_server --stdio`: the official SDK's stdio client, hostile lines,
many requests in flight on one pipe, the caps, cancellation, progress and the exits.
Every test runs the real server as a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from .sdkcheck import every_tool_answers

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

SERVER = (sys.executable, "-m", "mcpperf_server", "--stdio")
INIT = {
    "jsonrpc": "2.0",
    "id": "init",
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}


def request(msg_id: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params or {}}


def call(msg_id: Any, tool: str, **arguments: Any) -> dict[str, Any]:
    return request(msg_id, "tools/call", {"name": tool, "arguments": arguments})


class Pipe:
    """The server process and its pipes; every line it writes on stdout must be JSON."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    def send(self, *messages: dict[str, Any] | bytes) -> None:
        assert self.proc.stdin is not None
        for m in messages:
            self.proc.stdin.write(m if isinstance(m, bytes) else json.dumps(m).encode() + b"\n")

    async def recv(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 10)
        assert line, "the server closed its stdout"
        msg: dict[str, Any] = json.loads(line)
        return msg

    async def answer(self, msg: dict[str, Any] | bytes) -> dict[str, Any]:
        """Send one message and return the next line (a response: nothing else runs)."""
        self.send(msg)
        return await self.recv()

    async def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return await asyncio.wait_for(self.proc.wait(), 10)


async def start(*args: str, init: bool = True) -> Pipe:
    proc = await asyncio.create_subprocess_exec(
        *SERVER,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        limit=1 << 20,
    )
    pipe = Pipe(proc)
    if init:
        assert (await pipe.answer(INIT))["result"]["protocolVersion"] == "2025-06-18"
        pipe.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return pipe


@pytest_asyncio.fixture
async def pipe() -> AsyncIterator[Pipe]:
    p = await start("--max-body-bytes", "8192", "--log-level", "debug")
    try:
        yield p
    finally:
        if p.proc.returncode is None:
            p.proc.kill()
            await p.proc.wait()


def sdk_params() -> StdioServerParameters:
    # The SDK starts the server with a minimal environment: pass the import path on.
    env = {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    return StdioServerParameters(command=SERVER[0], args=list(SERVER[1:]), env=env)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_sdk_stdio_client_lists_tools_and_every_tool_answers(mode: str) -> None:
    async with Client(sdk_params(), mode=mode) as client:
        assert client.protocol_version == "2025-11-25"
        await every_tool_answers(client, legacy=True)


HOSTILE: list[tuple[str, bytes, int, Any]] = [
    ("malformed JSON", b'{"jsonrpc": "2.0", "id": 1, "method": ', -32700, None),
    ("invalid UTF-8", b"\xff\xfe{not utf8}", -32700, None),
    ("deep nesting", b"[" * 3000 + b"]" * 3000, -32700, None),
    ("huge integer", b'{"jsonrpc":"2.0","id":' + b"9" * 5000 + b',"method":"ping"}', -32700, None),
    ("batch", b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', -32600, None),
    ("empty batch", b"[]", -32600, None),
    ("a string", b'"just a string"', -32600, None),
    ("a number", b"42", -32600, None),
    ("null id", b'{"jsonrpc":"2.0","id":null,"method":"ping"}', -32600, None),
    ("bool id", b'{"jsonrpc":"2.0","id":true,"method":"ping"}', -32600, None),
    ("jsonrpc 1.0", b'{"jsonrpc":"1.0","id":7,"method":"ping"}', -32600, 7),
    ("no method", b'{"jsonrpc":"2.0","id":8}', -32600, 8),
    ("method not a string", b'{"jsonrpc":"2.0","id":9,"method":7}', -32600, 9),
    ("params a list", b'{"jsonrpc":"2.0","id":10,"method":"ping","params":[1]}', -32602, 10),
    ("unknown method", b'{"jsonrpc":"2.0","id":11,"method":"resources/list"}', -32601, 11),
    (
        "line over the limit",
        b'{"jsonrpc":"2.0","id":12,"x":"' + b"y" * 20_000 + b'"}',
        -32600,
        None,
    ),
]
BOMBS = [
    ("memory_allocate", {"mb_size": 10**9}),
    ("cpu_intensive", {"size": 10**12}),
    ("async_io", {"delay_ms": 10**10}),
    ("fast_compute", {"input": 2**200}),
    ("fast_compute", {"input": "21"}),
    ("session_counter", {"increment": 1, "counter_id": "x" * 300}),
    ("error_simulation", {"error_type": "meltdown"}),
    ("no_such_tool", {}),
]


async def test_hostile_lines_get_errors_and_the_server_keeps_answering(pipe: Pipe) -> None:
    for n, (what, line, code, msg_id) in enumerate(HOSTILE):
        reply = await pipe.answer(line + b"\n")
        assert (reply["error"]["code"], reply["id"]) == (code, msg_id), what
        assert (await pipe.answer(request(f"ping{n}", "ping")))["result"] == {}, what
    for n, (tool, args) in enumerate(BOMBS):
        reply = await pipe.answer(request(n, "tools/call", {"name": tool, "arguments": args}))
        assert reply["error"]["code"] == -32602, tool
    # an answer that is not a request is ignored; a blank line too
    pipe.send({"jsonrpc": "2.0", "id": 99, "result": {}}, b"\n")
    reply = await pipe.answer(call("after", "error_simulation", error_type="disconnect"))
    assert reply["error"]["code"] == -32603
    assert "stdio" in reply["error"]["message"]
    reply = await pipe.answer(call("last", "error_simulation", error_type="internal"))
    assert reply["error"]["code"] == -32603
    assert await pipe.close() == 0
    assert pipe.proc.stderr is not None
    err = (await pipe.proc.stderr.read()).decode()
    assert "serving MCP on stdio" in err
    assert "simulated unhandled exception" in err  # debug logs: on stderr, never stdout


async def test_long_line_in_pieces_is_discarded_up_to_its_newline(pipe: Pipe) -> None:
    pipe.send(b'{"jsonrpc":"2.0","id":1,"method":"ping","pad":"')
    for _ in range(50):  # 500 kB in pieces: refused once, the rest skipped unread
        pipe.send(b"z" * 10_000)
        await asyncio.sleep(0)
    pipe.send(b'"}\n', request(2, "ping"))
    first, second = await pipe.recv(), await pipe.recv()
    assert (first["error"]["code"], first["id"]) == (-32600, None)
    assert "8192" in first["error"]["message"]
    assert second == {"jsonrpc": "2.0", "id": 2, "result": {}}


async def test_before_initialize(pipe: Pipe) -> None:
    fresh = await start(init=False)
    assert (await fresh.answer(request(1, "ping")))["result"] == {}
    reply = await fresh.answer(call(2, "fast_compute", input=1))
    assert reply["error"]["code"] == -32600
    assert "initialize first" in reply["error"]["message"]
    assert await fresh.close() == 0


async def test_a_hundred_requests_in_flight_on_one_pipe(pipe: Pipe) -> None:
    sent = []
    for i in range(100):  # the later sent, the sooner done: answers come back reversed
        msg = (
            call(i, "async_io", delay_ms=300 - 2 * i) if i % 2 else call(i, "fast_compute", input=i)
        )
        sent.append(msg)
    pipe.send(*sent)
    start_t = time.monotonic()
    order = [(await pipe.recv())["id"] for _ in range(100)]
    assert sorted(order) == list(range(100))
    assert order != list(range(100))
    assert order[:50] == list(range(0, 100, 2))  # fast ones at once, in order
    assert order[50:] == list(range(99, 0, -2))  # the waits, shortest first
    assert time.monotonic() - start_t < 2.0  # concurrently: not 50 x 200 ms


async def test_over_the_in_flight_cap_is_refused_at_once() -> None:
    pipe = await start("--max-in-flight", "5")
    pipe.send(*(call(i, "async_io", delay_ms=500) for i in range(8)))
    replies = [await pipe.recv() for _ in range(8)]
    busy = [r["id"] for r in replies if r.get("error", {}).get("code") == -32000]
    done = [r["id"] for r in replies if "result" in r]
    assert busy == [5, 6, 7]  # refused first, before the others finish
    assert sorted(done) == [0, 1, 2, 3, 4]
    assert "--max-in-flight" in replies[0]["error"]["message"]
    assert await pipe.close() == 0


async def test_cancelled_request_gets_no_answer_and_progress_is_sent(pipe: Pipe) -> None:
    pipe.send(
        call("slow", "async_io", delay_ms=5000),
        {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": "slow", "reason": "test"},
        },
        request(
            "p",
            "tools/call",
            {"name": "async_io", "arguments": {"delay_ms": 40}, "_meta": {"progressToken": 5}},
        ),
    )
    lines = [await pipe.recv() for _ in range(6)]
    progress = [m["params"] for m in lines if m.get("method") == "notifications/progress"]
    assert [p["progress"] for p in progress] == [0, 1, 2, 3, 4]
    assert {p["progressToken"] for p in progress} == {5}
    assert lines[-1]["id"] == "p"
    assert lines[-1]["result"]["structuredContent"] == {"output": 40}
    # "slow" was cancelled: the next line is the answer to the next request
    assert (await pipe.answer(request("after", "ping")))["id"] == "after"


async def test_eof_cancels_work_in_flight_and_exits_zero(pipe: Pipe) -> None:
    pipe.send(call("slow", "async_io", delay_ms=20_000), call("cpu", "cpu_intensive", size=1))
    assert (await pipe.recv())["id"] == "cpu"
    started = time.monotonic()
    assert await pipe.close() == 0
    assert time.monotonic() - started < 5
    assert pipe.proc.stdout is not None
    tail = [json.loads(line) for line in (await pipe.proc.stdout.read()).splitlines()]
    assert [(m["id"], m["error"]["code"]) for m in tail] == [("slow", -32000)]


async def test_sigterm_exits_zero(pipe: Pipe) -> None:
    pipe.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(pipe.proc.wait(), 10) == 0
