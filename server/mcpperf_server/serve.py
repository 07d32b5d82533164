"""Running the app under uvicorn (default) or Hypercorn, with the readiness line and a
graceful shutdown that closes long-lived streams first."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any

import uvicorn

from .app import create_app
from .config import ServerConfig
from .state import ServerState
from .tools import DropConnection

log = logging.getLogger("mcpperf_server")


def announce(host: str, port: int, asgi: str) -> None:
    shown = f"[{host}]" if ":" in host else host
    print(f"mcpperf-server listening on http://{shown}:{port}/mcp (pid {os.getpid()}, {asgi})",
          file=sys.stderr, flush=True)


class _QuietDrops(logging.Filter):
    """Simulated disconnects are on purpose: do not log them as application errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, DropConnection):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, closing our streams before it waits for connections to end."""

    def __init__(self, config: uvicorn.Config, state: ServerState) -> None:
        super().__init__(config)
        self.state = state

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            announce(host, port, "uvicorn")

    async def shutdown(self, sockets: Any = None) -> None:
        self.state.begin_shutdown()
        await super().shutdown(sockets)


async def serve(config: ServerConfig, asgi: str, level: str) -> None:
    app = create_app(config)
    state: ServerState = app.config["MCPPERF_STATE"]
    for name in ("uvicorn.error", "hypercorn.error", "quart.app", "asyncio"):
        logging.getLogger(name).addFilter(_QuietDrops())
    if asgi == "hypercorn":
        await _serve_hypercorn(app, config, state)
        return
    uv_config = uvicorn.Config(app, host=config.host, port=config.port, loop="none",
                               http="httptools", lifespan="on", access_log=False,
                               log_level=level, log_config=None, server_header=False,
                               timeout_graceful_shutdown=5, timeout_keep_alive=30)
    await _Uvicorn(uv_config, state).serve()


async def _serve_hypercorn(app: Any, config: ServerConfig, state: ServerState) -> None:
    from hypercorn.asyncio import serve as hyper_serve
    from hypercorn.config import Config

    hconfig = Config()
    shown = f"[{config.host}]" if ":" in config.host else config.host
    hconfig.bind = [f"{shown}:{config.port}"]
    hconfig.accesslog = None
    hconfig.graceful_timeout = 5
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def trigger() -> None:
        await stop.wait()
        state.begin_shutdown()

    async def ready() -> None:
        await asyncio.sleep(0)
        announce(config.host, config.port, "hypercorn")

    app.before_serving(ready)
    await hyper_serve(app, hconfig, shutdown_trigger=trigger)
