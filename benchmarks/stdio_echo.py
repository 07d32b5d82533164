"""A minimal stdio MCP server for measuring the generator's stdio path, not a server.

Answers initialize, tools/list (one tool, `echo`) and every tools/call with a fixed
result, reading whatever the pipe holds at once and writing all the answers in one
write: as little server work per request as Python allows, so that the load generator
is what the benchmark measures.
"""

from __future__ import annotations

import json
import os
import sys

CALL_ANSWER = b'{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"ok"}]}}\n'
ID_KEY = b'"id":'


def answer(line: bytes) -> bytes:
    if b'"tools/call"' in line:  # the hot path: copy the id, no JSON decoding
        start = line.index(ID_KEY) + len(ID_KEY)
        end = line.index(b",", start)
        return CALL_ANSWER % line[start:end]
    msg = json.loads(line)
    if "id" not in msg:
        return b""
    method = msg.get("method")
    result: object = {}
    if method == "initialize":
        result = {
            "protocolVersion": msg["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "stdio-echo", "version": "1"},
        }
    elif method == "tools/list":
        result = {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}
    elif method != "ping":
        error = {"code": -32601, "message": f"no {method}"}
        return json.dumps({"jsonrpc": "2.0", "id": msg["id"], "error": error}).encode() + b"\n"
    return json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}).encode() + b"\n"


def main() -> None:
    rfd, wfd = sys.stdin.fileno(), sys.stdout.fileno()
    pending = b""
    while True:
        chunk = os.read(rfd, 1 << 16)
        if not chunk:
            return
        *lines, pending = (pending + chunk).split(b"\n")
        out = b"".join(answer(line) for line in lines if line)
        while out:
            out = out[os.write(wfd, out) :]


if __name__ == "__main__":
    main()
