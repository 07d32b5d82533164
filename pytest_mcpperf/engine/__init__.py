"""The load generator's hot path: HTTP/1.1 connections, SSE decoding, MCP sessions.

Nothing here imports pytest; everything is asyncio-native and runs on uvloop when
it is installed.
"""

from __future__ import annotations
