"""What one load run is asked to do: the input of the runner.

`LoadSpec` is the single description of a run shared by the pytest plugin, the
`mcpperf` command and the scenarios. Validation of user-supplied values happens in
`settings.py`; this module only holds the resolved values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_mcpperf.vocabulary import DEFAULT_MAX_RESPONSE_BYTES, OPEN_LOOP_PATTERNS

#: The tool a run calls when none is named, and its arguments when none are given:
#: `fast_compute` takes a required integer `input` (the seed's signature).
DEFAULT_TOOL = "fast_compute"
DEFAULT_TOOL_ARGUMENTS: Mapping[str, Any] = {"input": 10}


@dataclass(frozen=True)
class ToolCall:
    """One weighted entry of a workload mix: which tool, with which arguments."""

    tool: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    weight: float = 1.0


@dataclass(frozen=True)
class LoadSpec:
    """A fully resolved load run.

    Open-loop patterns send `rate` requests/s on a schedule computed from the start
    (`arrival` = "constant" or "poisson") through at most `concurrency` connections.
    `concurrent` is the closed loop: `users` users, each with its own session, each
    sending its next request when the previous one answered. `front_end` ("pytest",
    "cli" or "api") is who built the spec; messages name that front end's options.
    `max_response_bytes` bounds one answer (a body, or one SSE event): past it the
    request is counted `too_large`, so a huge or endless answer cannot grow memory.
    """

    url: str
    pattern: str = "throughput"
    rate: float = 100.0
    duration_s: float = 10.0
    concurrency: int = 10
    users: int = 10
    tool: str = DEFAULT_TOOL
    arguments: Mapping[str, Any] = field(default_factory=dict)
    mix: Sequence[ToolCall] = ()
    arrival: str = "constant"
    warmup_s: float = 0.0
    timeout_s: float = 30.0
    burst_size: int = 100
    burst_interval_s: float = 5.0
    ramp_to: float | None = None
    protocol: str = "auto"
    processes: int = 1
    server_pid: int | None = None
    scenario: str = ""
    seed: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)
    front_end: str = "api"
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def replace(self, **changes: Any) -> LoadSpec:
        return dataclasses.replace(self, **changes)

    def workload(self) -> Sequence[ToolCall]:
        """The weighted tool mix; a single `tool` is a mix of one."""
        if self.mix:
            return self.mix
        return (ToolCall(self.tool, dict(self.arguments)),)

    def to_wire(self) -> dict[str, Any]:
        """Plain values only (for a generator process's channel); `from_wire` inverts it."""
        out = dataclasses.asdict(self)
        out["mix"] = [dataclasses.asdict(c) for c in self.mix]
        out["arguments"] = dict(self.arguments)
        out["extra"] = dict(self.extra)
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> LoadSpec:
        fields = dict(d)
        fields["mix"] = tuple(
            ToolCall(c["tool"], c["arguments"], c["weight"]) for c in fields["mix"]
        )
        return cls(**fields)

    @property
    def closed_loop(self) -> bool:
        """True for the closed-loop pattern (`concurrent`): users, not a schedule."""
        return self.pattern not in OPEN_LOOP_PATTERNS

    def config_dict(self) -> dict[str, Any]:
        """The report's `config` object."""
        return self.to_wire()
