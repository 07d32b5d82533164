"""The bundled MCP load-test server: a Quart app on `/mcp`, both protocol eras.

Run it: `python -m mcpperf_server [--bind-address 127.0.0.1:8080] [--log-level L]
[--asgi-server uvicorn|hypercorn] [--session-idle-timeout S] [--max-sessions N]
[--memory-budget-mb M] [--max-body-bytes B] [--cpu-workers N] [--allow-host H]`,
or `mcpperf server` with the same flags. Log level also from `$MCPPERF_LOG`.

For a spawner:
- `--bind-address 127.0.0.1:0` picks a free port; the server then prints one line to
  stderr when it accepts connections:
  `mcpperf-server listening on http://127.0.0.1:PORT/mcp (pid N, uvicorn)`.
  `GET /healthz` answers `ok` once serving.
- SIGTERM or SIGINT: graceful stop (open streams closed first), exit status 0.
- `POST /mcpperf/broadcast` (optional JSON body `{"data": ...}`) fans one notification out
  to every open legacy GET stream and 2026-07-28 `subscriptions/listen` stream; the reply
  says how many got it: `{"delivered": N, "seq": S}`.

In process: `create_app(ServerConfig(...))`; its state is `app.config["MCPPERF_STATE"]`.
"""

from __future__ import annotations

from .app import create_app
from .config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
