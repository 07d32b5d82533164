"""Notification fan-out of the bundled server's broadcast channel, two ways in one run.

1. In process: `Broadcaster.publish()` to N subscriber queues (the channel's own cost).
2. Over sockets: N 2026-07-28 `subscriptions/listen` streams on a spawned server, one
   POST /mcpperf/broadcast, time until every stream has the notification.

usage: python benchmarks/server_fanout.py [--subscribers 1000] [--publishes 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(rb"listening on http://[^:]+:(\d+)/mcp")


def in_process(subscribers: int, publishes: int) -> float:
    from mcpperf_server.broadcast import Broadcaster, listen_render

    async def run() -> float:
        hub = Broadcaster(subscribers, publishes + 1)
        for i in range(subscribers):
            hub.subscribe(listen_render(i))
        start = time.perf_counter()
        for _ in range(publishes):
            hub.publish({"x": 1})
        return (time.perf_counter() - start) / publishes

    return asyncio.run(run())


LISTEN = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "subscriptions/listen",
        "params": {
            "notifications": {"toolsListChanged": True},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }
).encode()


def listen_request(port: int) -> bytes:
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "Accept: text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
        f"Mcp-Method: subscriptions/listen\r\nContent-Length: {len(LISTEN)}\r\n\r\n"
    )
    return head.encode() + LISTEN


async def over_sockets(port: int, subscribers: int) -> tuple[float, float]:
    streams = []
    for _ in range(subscribers):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(listen_request(port))
        streams.append((reader, writer))
    for reader, _ in streams:  # wait for every acknowledgement
        await reader.readuntil(b"subscriptions/acknowledged")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    writer.write(
        f"POST /mcpperf/broadcast HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Length: 0\r\n\r\n".encode()
    )
    arrivals = await asyncio.gather(*[_arrival(r) for r, _ in streams])
    writer.close()
    for _, w in streams:
        w.close()
    done = [t - start for t in arrivals]
    return max(done), sorted(done)[len(done) // 2]


async def _arrival(reader: asyncio.StreamReader) -> float:
    await asyncio.wait_for(reader.readuntil(b"tools/list_changed"), 30)
    return time.perf_counter()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--publishes", type=int, default=20)
    args = parser.parse_args()
    per = in_process(args.subscribers, args.publishes)
    print(
        f"in process: publish to {args.subscribers} subscribers {per * 1e3:.2f} ms "
        f"({per / args.subscribers * 1e6:.2f} us each)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcpperf_server", "--bind-address", "127.0.0.1:0"],
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stderr is not None
        found = None
        deadline = time.monotonic() + 20
        while found is None and time.monotonic() < deadline:
            found = READY.search(proc.stderr.readline())
        if found is None:
            raise SystemExit("server did not start")
        last, median = asyncio.run(over_sockets(int(found.group(1)), args.subscribers))
        print(
            f"over sockets: {args.subscribers} listen streams, broadcast reached all in "
            f"{last * 1e3:.1f} ms (median {median * 1e3:.1f} ms)"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
