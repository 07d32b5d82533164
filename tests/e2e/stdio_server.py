"""A small stdio MCP server with known behaviour, for the stdio transport's tests.

    python stdio_server.py [--delay-ms D] [--freeze-every-ms P --freeze-for-ms S]
                           [--chatter] [--stderr-kib N] [--die-after N] [--long-line]
                           [--serial] [--seed-tools]

Speaks the legacy era (initialize), lists one tool `echo`, one resource and one prompt.
Each tools/call answers after D ms without blocking others (many in flight at once).
With a freeze, the whole process stops reading for S ms every P ms (a stop-the-world
pause): requests that arrive meanwhile wait, as in the HTTP coordinated-omission test.
`--chatter`: before each answer the server sends a notification and a ping request of
its own. `--stderr-kib N`: writes N KiB to stderr at start (more than a pipe holds).
`--die-after N`: exits with status 3 after N tool calls, saying why on stderr.
`--long-line`: answers tools/call with a 2 MiB line.
`--seed-tools`: also lists the seed's fast_compute, cpu_intensive and memory_allocate
(every tool name is answered alike), so the stress and memory commands run over stdio.
`--serial`: tools/call are served one at a time (each takes D ms, the next waits), as
a single-threaded server that blocks on each request would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any


class Server:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.t0 = time.perf_counter()
        self.calls = 0
        self.out = sys.stdout.buffer
        self.pings = 0
        self.one_at_a_time = asyncio.Lock()

    def freeze_left_s(self) -> float:
        every, length = self.opts.freeze_every_ms / 1000, self.opts.freeze_for_ms / 1000
        if not every:
            return 0.0
        phase = (time.perf_counter() - self.t0) % every
        return length - phase if phase < length else 0.0

    def send(self, msg: dict[str, Any]) -> None:
        self.out.write(json.dumps(msg).encode() + b"\n")
        self.out.flush()

    async def handle(self, msg: dict[str, Any]) -> None:
        method = msg.get("method")
        rid = msg.get("id")
        if method is None:  # a response to our own ping
            self.pings += 1
            return
        if rid is None:
            return  # a notification
        result: Any
        if method == "initialize":
            result = {
                "protocolVersion": msg["params"]["protocolVersion"],
                "capabilities": {"tools": {}, "resources": {}, "prompts": {}},
                "serverInfo": {"name": "stdio-test", "version": "1"},
            }
        elif method == "tools/list":
            names = ["echo"]
            if self.opts.seed_tools:
                names += ["fast_compute", "cpu_intensive", "memory_allocate"]
            result = {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in names]}
        elif method == "resources/list":
            result = {"resources": [{"uri": "mem://a", "name": "a"}]}
        elif method == "prompts/list":
            result = {"prompts": [{"name": "hello"}]}
        elif method == "resources/read":
            result = {"contents": [{"uri": msg["params"]["uri"], "text": "a"}]}
        elif method == "prompts/get":
            result = {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}]}
        elif method == "ping":
            result = {}
        elif method == "tools/call":
            await self.tool_call()
            if self.opts.long_line:
                result = {"content": [{"type": "text", "text": "x" * (2 << 20)}]}
            else:
                result = {"content": [{"type": "text", "text": "ok"}]}
        else:
            self.send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "no"}})
            return
        if self.opts.chatter:
            self.send({"jsonrpc": "2.0", "method": "notifications/message", "params": {}})
            self.send({"jsonrpc": "2.0", "id": f"s{rid}", "method": "ping"})
        self.send({"jsonrpc": "2.0", "id": rid, "result": result})

    async def tool_call(self) -> None:
        self.calls += 1
        if self.opts.die_after and self.calls > self.opts.die_after:
            sys.stderr.write("stdio-test: dying on purpose after the last call\n")
            sys.stderr.flush()
            os._exit(3)
        if self.opts.serial:
            async with self.one_at_a_time:
                await asyncio.sleep(self.opts.delay_ms / 1000)
        elif self.opts.delay_ms:
            await asyncio.sleep(self.opts.delay_ms / 1000)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--freeze-every-ms", type=float, default=0.0)
    ap.add_argument("--freeze-for-ms", type=float, default=0.0)
    ap.add_argument("--chatter", action="store_true")
    ap.add_argument("--stderr-kib", type=int, default=0)
    ap.add_argument("--die-after", type=int, default=0)
    ap.add_argument("--long-line", action="store_true")
    ap.add_argument("--serial", action="store_true")
    ap.add_argument("--seed-tools", action="store_true")
    opts = ap.parse_args()
    server = Server(opts)
    if opts.stderr_kib:
        sys.stderr.write("noise " * (opts.stderr_kib * 1024 // 6) + "\n")
        sys.stderr.flush()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks: set[asyncio.Task[None]] = set()
    while True:
        freeze = server.freeze_left_s()
        if freeze > 0:
            time.sleep(freeze)  # noqa: ASYNC251 - stop the world: nothing is read or answered
        line = await reader.readline()
        if not line:
            return
        task = loop.create_task(server.handle(json.loads(line)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


if __name__ == "__main__":
    asyncio.run(main())
