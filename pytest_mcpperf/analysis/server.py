"""What the stress and memory procedures need of a server and of the load engine.

Any target will do (the `mcp_server` fixture's object, the CLI's target, a fake in a
unit test) as long as it has these four members; the engine is handed in as a callable,
so nothing in `analysis` imports pytest, argparse or the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec


class MeasuredServer(Protocol):
    """A server under test: where it listens, its pid when known, whether it still runs,
    and the RSS of its process tree in bytes (which may raise when the pid is unknown)."""

    @property
    def url(self) -> str: ...

    @property
    def pid(self) -> int | None: ...

    def alive(self) -> bool: ...

    def rss(self) -> int: ...


#: Runs one spec to completion: the load engine's `run`.
RunOne = Callable[[LoadSpec], LoadResult]
#: Runs specs at the same time and returns their results in order.
RunMany = Callable[[Sequence[LoadSpec]], list[LoadResult]]

__all__ = ["MeasuredServer", "RunMany", "RunOne"]
