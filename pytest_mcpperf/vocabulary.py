"""The words every layer shares: patterns, arrivals, protocol eras, outcome classes,
units, front ends and the option each front end gives for a setting.

One definition each. Nothing here imports from the rest of the package, so every module
(engine, analysis, pytest layer, CLI) can use it without a cycle.
"""

from __future__ import annotations

from typing import Final, Literal

# -- load patterns --------------------------------------------------------------------
#: Open-loop patterns send on a schedule computed from the start; `concurrent` is the
#: closed loop of `users`.
#: `journey` is a closed loop too: each user repeats a whole session (open, tools/list,
#: calls, close), each step timed (`engine.journey`).
OPEN_LOOP_PATTERNS: Final = ("throughput", "latency", "burst", "ramp", "stress", "soak")
CLOSED_LOOP_PATTERNS: Final = ("concurrent", "journey")
JOURNEY: Final = "journey"
PATTERNS: Final = (
    "throughput",
    "latency",
    "concurrent",
    "journey",
    "burst",
    "ramp",
    "stress",
    "soak",
)
ARRIVALS: Final = ("constant", "poisson")

# -- MCP protocol eras -----------------------------------------------------------------
MODERN: Final = "2026-07-28"  # server/discover, no session, per-request _meta
LEGACY: Final = "2025-11-25"  # initialize handshake, Mcp-Session-Id
PROTOCOLS: Final = ("auto", "modern", "legacy")
#: Protocol versions a user may type for --protocol / protocol=, and the era each means.
PROTOCOL_ALIASES: Final = {
    MODERN: "modern",
    LEGACY: "legacy",
    "2025-06-18": "legacy",
    "2025-03-26": "legacy",
}

# -- outcome classes (small ints on the hot path, names in reports) -------------------
#: `protocol`: the answer breaks HTTP framing rules MCP relies on, JSON-RPC or MCP (bad
#: JSON, no "jsonrpc", wrong id, neither result nor error, a content coding not asked
#: for). `too_large`: the answer (or one SSE event) passed the response size limit.
OK, TOOL_ERROR, RPC_ERROR, HTTP_ERROR, TRANSPORT, TIMEOUT, PROTOCOL, TOO_LARGE = range(8)
CLASS_NAMES: Final = (
    "ok",
    "tool_error",
    "rpc_error",
    "http_error",
    "transport",
    "timeout",
    "protocol",
    "too_large",
)
ERROR_CLASSES: Final = CLASS_NAMES[1:]

# -- verdicts --------------------------------------------------------------------------
ACCURACY_VERDICTS: Final = ("valid", "client_bound", "contended")
MEMORY_VERDICTS: Final = ("stable", "moderate", "leak", "insufficient")

# -- units -----------------------------------------------------------------------------
KIB: Final = 1024
MIB: Final = 1024 * 1024

#: The largest answer (body, or one SSE event) a request may get before it is counted
#: `too_large`: generous for tool results, small enough to bound a generator's memory.
DEFAULT_MAX_RESPONSE_BYTES: Final = 16 * MIB

# -- front ends and their names for one setting ---------------------------------------
FrontEnd = Literal["pytest", "cli", "api"]
FRONT_ENDS: Final = ("pytest", "cli", "api")

_OPTIONS: Final[dict[str, tuple[str, str, str]]] = {
    # key: (pytest option or marker keyword, mcpperf flag, LoadSpec / API name)
    "url": ("--mcp-url", "--server-url", "LoadSpec.url"),
    "server_cmd": ("--mcp-server-cmd", "--server-cmd", "Target.spawn(command)"),
    "processes": ("--perf-processes", "--processes", "LoadSpec.processes"),
    "rate": ("the load marker's rate=", "--requests-per-second", "LoadSpec.rate"),
    "concurrency": ("the load marker's concurrency=", "--concurrency", "LoadSpec.concurrency"),
    "duration": ("--perf-duration", "--duration-seconds", "LoadSpec.duration_s"),
    "timeout": ("the load marker's timeout_s=", "--timeout-seconds", "LoadSpec.timeout_s"),
    "protocol": ("--mcp-protocol", "--protocol", "LoadSpec.protocol"),
    "max_response_bytes": (
        "the load marker's max_response_bytes=",
        "--max-response-bytes",
        "LoadSpec.max_response_bytes",
    ),
    "server_pid": (
        "the mcp_server fixture (spawn the server)",
        "--server-pid",
        "LoadSpec.server_pid",
    ),
    "transport": ("--mcp-transport", "--transport", "LoadSpec.transport"),
    "server_processes": (
        "--mcp-server-processes",
        "--server-processes",
        "LoadSpec.server_processes",
    ),
    "journey_calls": (
        "the load marker's journey_calls=",
        "--journey-calls",
        "LoadSpec.journey_calls",
    ),
    "header": ("--mcp-header", "--header", "LoadSpec.headers"),
    "method": ("the load marker's method=", "--method", "LoadSpec.method"),
    "warmup": ("the load marker's warmup=", "--warmup-seconds", "LoadSpec.warmup_s"),
    "memory_check": (
        "the load marker's memory_check=PERCENT",
        "--memory-check PERCENT",
        "check_memory(result, max_growth_percent)",
    ),
    "params": ("the load marker's params=", "--params", "LoadSpec.params"),
    "server_env": ("--mcp-server-env", "--server-env", "Target.spawn(env)"),
    "server_path": ("--mcp-server-path", "--server-path", "Target.spawn(path)"),
    "startup_timeout": (
        "--mcp-startup-timeout",
        "--startup-timeout-seconds",
        "Target.spawn(startup_timeout_s)",
    ),
}


def option(front_end: str, key: str) -> str:
    """How `front_end` spells the setting `key`, for messages that name the fix.

    >>> option("cli", "url")
    '--server-url'
    """
    names = _OPTIONS[key]
    index = FRONT_ENDS.index(front_end) if front_end in FRONT_ENDS else 2
    return names[index]
