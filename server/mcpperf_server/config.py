"""Every tunable of the server in one frozen object (CLI flags map onto its fields)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerConfig:
    """Limits and knobs. Defaults are safe for a laptop; tests shrink them."""

    host: str = "127.0.0.1"
    port: int = 8080
    session_idle_timeout_s: float = 300.0
    max_sessions: int = 10_000
    max_body_bytes: int = 4 * 1024 * 1024
    memory_budget_mb: int = 1024
    max_alloc_mb: int = 256
    max_cpu_size: int = 10_000
    max_delay_ms: int = 30_000
    cpu_workers: int = 2
    max_cpu_queue: int = 32
    max_counters: int = 10_000
    max_streams: int = 10_000
    stream_queue_size: int = 256
    keepalive_s: float = 15.0
    extra_hosts: tuple[str, ...] = ()

    @property
    def sweep_interval_s(self) -> float:
        """How often idle sessions are looked for: often enough to honour the timeout."""
        return max(0.05, min(self.session_idle_timeout_s / 4, 10.0))
