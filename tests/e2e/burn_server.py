"""A tiny MCP server (stdlib only) that burns a fixed CPU time per tools/call, for tests.

    python tests/e2e/burn_server.py --port 8080 --burn-ms 2.0

The protocol is `leaky_server.py`'s (both eras, Streamable HTTP on `/mcp`), without the
leak. Every tools/call spins on the process's CPU clock for `--burn-ms` ms before it
answers: two copies with different `--burn-ms` are a baseline and a candidate whose
service time differs by a known amount, for `mcpperf compare` to find.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import leaky_server


class BurnHandler(leaky_server.Handler):
    def __init__(self, burn_s: float) -> None:
        super().__init__(0)
        self.burn_s = burn_s

    def call_tool(self, params: dict[str, Any]) -> dict[str, Any]:
        end = time.process_time() + self.burn_s
        while time.process_time() < end:
            pass
        return super().call_tool(params)


async def main(port: int, burn_ms: float) -> None:
    handler = BurnHandler(burn_ms / 1000.0)
    server = await asyncio.start_server(
        lambda r, w: leaky_server.serve_connection(handler, r, w), "127.0.0.1", port
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--burn-ms", type=float, default=2.0)
    ns = parser.parse_args()
    asyncio.run(main(ns.port, ns.burn_ms))
