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


TOOLS_CALL = "tools/call"
#: Request kinds a run can send as load, besides tools/call.
LOAD_METHODS = (
    TOOLS_CALL,
    "resources/read",
    "resources/list",
    "resources/templates/list",
    "prompts/get",
    "prompts/list",
    "tools/list",
    "completion/complete",
    "ping",
)
#: Header names whose values never appear in a report (any header value is redacted).
REDACTED = "<redacted>"


@dataclass(frozen=True)
class ToolCall:
    """One weighted entry of a workload mix: a tool call (`tool`, `arguments`), or any
    request kind (`method` with its `params`; `tool` is then its label in reports)."""

    tool: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    method: str = TOOLS_CALL
    params: Mapping[str, Any] = field(default_factory=dict)

    def request(self) -> tuple[str, dict[str, Any], str | None]:
        """(JSON-RPC method, params, the name it is about: tool, prompt or resource URI)."""
        if self.method == TOOLS_CALL:
            return TOOLS_CALL, {"name": self.tool, "arguments": dict(self.arguments)}, self.tool
        params = dict(self.params)
        name = params.get("name") or params.get("uri")
        return self.method, params, str(name) if name is not None else None


def request_label(method: str, params: Mapping[str, Any]) -> str:
    """How reports name a request that is not a tool call: the method, and the prompt
    name or resource URI it is about (`resources/read file:///a.txt`)."""
    name = params.get("name") or params.get("uri")
    if method == "completion/complete":
        ref = params.get("ref")
        name = (ref.get("name") or ref.get("uri")) if isinstance(ref, Mapping) else None
    return f"{method} {name}" if name else method


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
    `server_processes` copies of a stdio server share the connections (round robin),
    for a server that answers one request at a time. `journey` is the closed loop of
    whole sessions: each user opens one, lists the tools, makes `journey_calls` calls
    and closes it, again and again (`engine.journey`).
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
    transport: str = "http"
    server_cmd: Sequence[str] = ()
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    method: str = TOOLS_CALL
    params: Mapping[str, Any] = field(default_factory=dict)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    server_processes: int = 1
    journey_calls: int = 5

    def replace(self, **changes: Any) -> LoadSpec:
        return dataclasses.replace(self, **changes)

    def workload(self) -> Sequence[ToolCall]:
        """The weighted mix; a single `tool` (or `method` with `params`) is a mix of one."""
        if self.mix:
            return self.mix
        if self.method != TOOLS_CALL:
            label = request_label(self.method, self.params)
            return (ToolCall(label, {}, 1.0, self.method, dict(self.params)),)
        return (ToolCall(self.tool, dict(self.arguments)),)

    def to_wire(self) -> dict[str, Any]:
        """Plain values only (for a generator process's channel); `from_wire` inverts it."""
        out = dataclasses.asdict(self)
        out["mix"] = [dataclasses.asdict(c) for c in self.mix]
        out["arguments"] = dict(self.arguments)
        out["extra"] = dict(self.extra)
        out["server_cmd"] = list(self.server_cmd)
        out["headers"] = dict(self.headers)
        out["params"] = dict(self.params)
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> LoadSpec:
        fields = dict(d)
        fields["mix"] = tuple(ToolCall(**c) for c in fields["mix"])
        fields["server_cmd"] = tuple(fields.get("server_cmd", ()))
        return cls(**fields)

    @property
    def closed_loop(self) -> bool:
        """True for the closed-loop pattern (`concurrent`): users, not a schedule."""
        return self.pattern not in OPEN_LOOP_PATTERNS

    def config_dict(self) -> dict[str, Any]:
        """The report's `config` object: header values are redacted (they may be secrets,
        or name the environment variables that hold them)."""
        out = self.to_wire()
        out["headers"] = {name: REDACTED for name in self.headers}
        return out
