"""The server's shared state: one object the HTTP layer and the tools reach through."""

from __future__ import annotations

import asyncio
import logging

from .broadcast import Broadcaster
from .config import ServerConfig
from .limits import CpuPool, HostGuard, MemoryBudget
from .sessions import CounterStore, SessionStore
from .stats import Stats
from .tools import Tool, ToolContext, build_tools

log = logging.getLogger("mcpperf_server")


class ServerState:
    """Sessions, counters, budgets, pools, stats and the broadcast channel of one server."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.guard = HostGuard(config)
        self.sessions = SessionStore(config.session_idle_timeout_s, config.max_sessions)
        self.counters = CounterStore(config.max_counters)
        self.budget = MemoryBudget(config.memory_budget_mb)
        self.pool = CpuPool(config.cpu_workers, config.max_cpu_queue)
        self.stats = Stats()
        self.broadcaster = Broadcaster(config.max_streams, config.stream_queue_size)
        self.tools: dict[str, Tool] = build_tools(config)
        self.shutting_down = False
        self._sweeper: asyncio.Task[None] | None = None

    def context(self) -> ToolContext:
        return ToolContext(
            self.config, self.budget, self.pool, self.stats, self.counters, self.sessions.__len__
        )

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(
            self.sessions.run_sweeper(self.config.sweep_interval_s)
        )

    def begin_shutdown(self) -> None:
        """Close every open stream so a graceful shutdown does not wait on them."""
        self.shutting_down = True
        self.broadcaster.close_all()
        self.sessions.close_all()

    async def stop(self) -> None:
        self.begin_shutdown()
        if self._sweeper is not None:
            self._sweeper.cancel()
        self.pool.shutdown()
