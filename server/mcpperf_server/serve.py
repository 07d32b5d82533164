"""Running the app under uvicorn (default) or Hypercorn, with the readiness line and a
graceful shutdown that closes long-lived streams first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .app import create_app
from .config import ServerConfig
from .state import ServerState
from .tools import DropConnection

log = logging.getLogger("mcpperf_server")


def announce(host: str, port: int, asgi: str) -> None:
    shown = f"[{host}]" if ":" in host else host
    print(
        f"mcpperf-server listening on http://{shown}:{port}/mcp (pid {os.getpid()}, {asgi})",
        file=sys.stderr,
        flush=True,
    )


class _QuietDrops(logging.Filter):
    """Simulated disconnects are on purpose: do not log them as application errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, DropConnection):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for a request's headers.

    uvicorn times out idle keep-alive connections but not a request whose headers never
    finish (slowloris): those would hold a descriptor each, forever.
    """

    header_timeout_s = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


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

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Like uvicorn's, minus re-raising the signal afterwards: a clean stop exits 0."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {
            sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

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
    protocol = type(
        "Protocol", (HeaderDeadlineProtocol,), {"header_timeout_s": config.header_timeout_s}
    )
    uv_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        loop="none",
        http=protocol,
        lifespan="on",
        access_log=False,
        log_level=level,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=30,
    )
    await _Uvicorn(uv_config, state).serve()


async def _serve_hypercorn(app: Any, config: ServerConfig, state: ServerState) -> None:
    from hypercorn.asyncio import serve as hyper_serve
    from hypercorn.config import Config

    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)  # bound here so port 0 can be reported
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    sock.listen(1024)
    sock.set_inheritable(True)
    hconfig = Config()
    hconfig.bind = [f"fd://{sock.fileno()}"]
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
        announce(config.host, sock.getsockname()[1], "hypercorn")

    app.before_serving(ready)
    try:
        await hyper_serve(app, hconfig, shutdown_trigger=trigger)
    finally:
        sock.detach()  # hypercorn owns (and closes) the fd; closing it again could hit a reused one
