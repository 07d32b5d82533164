"""A minimal keep-alive HTTP/1.1 client on raw asyncio streams, for volume tests where
httpx would be the bottleneck (thousands of requests in a second or two)."""

from __future__ import annotations

import asyncio
import json
from typing import Any


def request_bytes(port: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> bytes:
    data = json.dumps(body).encode()
    lines = [
        "POST /mcp HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items() if k.lower() != "content-type"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


async def hammer(port: int, payload: bytes, total: int, connections: int = 8) -> list[int]:
    """Send `payload` `total` times over `connections` keep-alive connections; statuses."""
    statuses: list[int] = []
    share = [total // connections + (i < total % connections) for i in range(connections)]

    async def worker(n: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(n):
                writer.write(payload)
                status, _, _ = await read_response(reader)
                statuses.append(status)
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*[worker(n) for n in share])
    return statuses
