"""A tiny MCP server (stdlib only) that keeps `--leak-kib` KiB per tools/call, for tests.

    python tests/e2e/leaky_server.py --port 8080 --leak-kib 50
    python tests/e2e/leaky_server.py --port 8080 --leak-kib 0 --cache-mib 50

It answers both protocol eras minimally over Streamable HTTP on `/mcp`: `initialize`
(with an `Mcp-Session-Id`), `notifications/*` (202), `server/discover`, `ping`,
`tools/list` and `tools/call` for `fast_compute(input)` and `echo(text)`. Every tools/call
appends a freshly written block of `--leak-kib` KiB to a global list that is never freed:
a deliberate leak for `mcpperf memory leak-detection` to find. With `--leak-kib 0` it is
a well-behaved server. `--cache-mib M` adds a bounded cache: each call stores a block of
`--cache-block-kib` KiB (128) until the cache holds M MiB, then nothing more, so RSS rises
in the first calls (at 400 calls/s, 50 MiB take one second) and then stays flat.
Binds 127.0.0.1 only; HTTP/1.1 keep-alive; no validation beyond what a load test needs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
from typing import Any

LEAKED: list[bytes] = []
CACHE: list[bytes] = []
VERSIONS = ["2026-07-28", "2025-11-25", "2025-06-18"]
TOOLS = [
    {
        "name": "fast_compute",
        "description": "input * 2 (and leaks)",
        "inputSchema": {"type": "object", "properties": {"input": {"type": "integer"}}},
    },
    {
        "name": "echo",
        "description": "echoes text (and leaks)",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
    },
]
SERVER_INFO = {"name": "leaky-test-server", "version": "0.1"}
MAX_BODY = 1 << 20


class Handler:
    def __init__(self, leak_bytes: int, cache_bytes: int = 0, block_bytes: int = 128 * 1024):
        self.leak_bytes = leak_bytes
        self.cache_bytes = cache_bytes
        self.block_bytes = block_bytes

    def call_tool(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.leak_bytes:
            LEAKED.append(bytes([len(LEAKED) % 251 + 1]) * self.leak_bytes)
        if len(CACHE) * self.block_bytes < self.cache_bytes:
            CACHE.append(bytes([len(CACHE) % 251 + 1]) * self.block_bytes)
        args = params.get("arguments") or {}
        if params.get("name") == "fast_compute":
            text = f"Computed result: {int(args.get('input', 0)) * 2}"
        else:
            text = str(args.get("text", ""))
        return {"content": [{"type": "text", "text": text}], "isError": False}

    def result(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        caps = {"tools": {"listChanged": False}}
        if method == "initialize":
            wanted = params.get("protocolVersion")
            version = wanted if wanted in VERSIONS[1:] else VERSIONS[1]
            return {"protocolVersion": version, "capabilities": caps, "serverInfo": SERVER_INFO}
        if method == "server/discover":
            return {
                "supportedVersions": VERSIONS,
                "capabilities": caps,
                "serverInfo": SERVER_INFO,
                "ttlMs": 60000,
                "cacheScope": "public",
            }
        if method == "ping":
            return {}
        if method == "tools/list":
            return {"tools": TOOLS, "ttlMs": 60000, "cacheScope": "public"}
        if method == "tools/call":
            return self.call_tool(params)
        return None

    def handle(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            msg = json.loads(body)
        except ValueError:
            return _json(
                400,
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}},
            )
        if not isinstance(msg, dict) or "method" not in msg:
            return _json(
                400,
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {"code": -32600, "message": "Invalid Request"},
                },
            )
        if "id" not in msg:
            return 202, {}, b""
        method = str(msg["method"])
        res = self.result(method, msg.get("params") or {})
        if res is None:
            return _json(
                404,
                {
                    "jsonrpc": "2.0",
                    "id": msg["id"],
                    "error": {"code": -32601, "message": f"unknown {method}"},
                },
            )
        res["resultType"] = "complete"
        status, headers, out = _json(200, {"jsonrpc": "2.0", "id": msg["id"], "result": res})
        if method == "initialize":
            headers["Mcp-Session-Id"] = secrets.token_hex(16)
        return status, headers, out


def _json(status: int, obj: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(obj).encode()


REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
}


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes] | None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method = lines[0].split(" ", 1)[0]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > MAX_BODY:
        return None
    body = await reader.readexactly(length) if length else b""
    return method, headers, body


def write_response(
    writer: asyncio.StreamWriter, status: int, headers: dict[str, str], body: bytes
) -> None:
    lines = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


async def serve_connection(
    handler: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            req = await read_request(reader)
            if req is None:
                write_response(writer, 413, {"Connection": "close"}, b"")
                break
            method, headers, body = req
            if method == "POST":
                write_response(writer, *handler.handle(body))
            elif method == "DELETE":
                write_response(writer, 200, {}, b"")
            else:
                write_response(writer, 405, {"Allow": "POST, DELETE"}, b"")
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main(port: int, leak_kib: int, cache_mib: int = 0, block_kib: int = 128) -> None:
    handler = Handler(leak_kib * 1024, cache_mib * 1024 * 1024, block_kib * 1024)
    server = await asyncio.start_server(
        lambda r, w: serve_connection(handler, r, w), "127.0.0.1", port
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--leak-kib", type=int, default=50)
    parser.add_argument("--cache-mib", type=int, default=0)
    parser.add_argument("--cache-block-kib", type=int, default=128)
    ns = parser.parse_args()
    asyncio.run(main(ns.port, ns.leak_kib, ns.cache_mib, ns.cache_block_kib))
