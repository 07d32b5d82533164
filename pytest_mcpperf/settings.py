"""Every pytest-mcpperf setting, resolved in one place.

Precedence, highest first: the test's own `perf_client.run(**overrides)`, the `load`
marker, the command line, the environment (`MCPPERF_*`), the ini file, the default.
One exception on purpose: `--perf-duration` (and its env/ini twins) caps *every*
scenario's duration, marker included, so CI can shorten a whole suite at once.

Every parser takes `where` ("marker load", "--perf-duration", "env MCPPERF_URL", ...)
so that an error names the value, the setting and the place it came from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pytest_mcpperf.analysis.compare import DEFAULT_GATES, Gate, parse_gates
from pytest_mcpperf.analysis.criteria import SEED_MEMORY_GROWTH_PERCENT, parse_threshold
from pytest_mcpperf.baseline import DEFAULT_DIR, NAME_PATTERN
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.spec import (
    DEFAULT_TOOL_ARGUMENTS,
    LOAD_METHODS,
    TOOLS_CALL,
    LoadSpec,
    ToolCall,
    request_label,
)
from pytest_mcpperf.target import check_url, split_command
from pytest_mcpperf.vocabulary import ARRIVALS, PATTERNS, PROTOCOLS, option

DEFAULT_REPORT_PATH = "mcpperf-report.json"
TRANSPORTS = ("http", "stdio")
REPORT_FORMATS = ("json", "html")
DEFAULT_REPORT_PATHS = {"json": DEFAULT_REPORT_PATH, "html": "mcpperf-report.html"}
PROGRESS_CHOICES = ("auto", "line", "none")


class ConfigLike(Protocol):
    """What settings need from `pytest.Config` (a fake one does in unit tests)."""

    def getoption(self, name: str) -> Any: ...

    def getini(self, name: str) -> Any: ...


# ---------------------------------------------------------------- value parsers


def _fail(name: str, value: object, where: str, expected: str) -> ConfigError:
    source = "" if where == name else f" from {where}"  # an option's own value: said once
    return ConfigError(f"invalid {name} {value!r}{source}: expected {expected}")


def parse_positive_float(value: object, name: str, where: str) -> float:
    """A number > 0 (a string is accepted, as from the command line or env)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _fail(name, value, where, "a number greater than 0, e.g. 10") from None
    if isinstance(value, bool) or not number > 0 or number == float("inf"):
        raise _fail(name, value, where, "a number greater than 0, e.g. 10")
    return number


def parse_non_negative_float(value: object, name: str, where: str) -> float:
    """A number >= 0."""
    if isinstance(value, bool):
        raise _fail(name, value, where, "a number of seconds >= 0, e.g. 1")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _fail(name, value, where, "a number of seconds >= 0, e.g. 1") from None
    if not 0 <= number < float("inf"):
        raise _fail(name, value, where, "a number of seconds >= 0, e.g. 1")
    return number


def parse_positive_int(value: object, name: str, where: str) -> int:
    """A whole number >= 1 (`2.0` is not one: a likely typo is better reported)."""
    if isinstance(value, bool | float):
        raise _fail(name, value, where, "a whole number >= 1, e.g. 4")
    try:
        number: int = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise _fail(name, value, where, "a whole number >= 1, e.g. 4") from None
    if number < 1:
        raise _fail(name, value, where, "a whole number >= 1, e.g. 4")
    return number


def parse_non_negative_int(value: object, name: str, where: str) -> int:
    """A whole number >= 0."""
    if isinstance(value, bool | float):
        raise _fail(name, value, where, "a whole number >= 0, e.g. 100")
    try:
        number: int = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise _fail(name, value, where, "a whole number >= 0, e.g. 100") from None
    if number < 0:
        raise _fail(name, value, where, "a whole number >= 0, e.g. 100")
    return number


def parse_percent(value: object, name: str, where: str) -> int:
    """A whole percentage from 0 to 99 (at 100 nothing would be expected to succeed)."""
    expected = "a whole percentage from 0 to 99, e.g. 50"
    if isinstance(value, bool | float):
        raise _fail(name, value, where, expected)
    try:
        number: int = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise _fail(name, value, where, expected) from None
    if not 0 <= number <= 99:
        raise _fail(name, value, where, expected)
    return number


def parse_json_object(value: object, name: str, where: str) -> dict[str, Any]:
    """A JSON object given as text (tool arguments on the command line), or a dict."""
    expected = "a JSON object, e.g. '{\"input\": 5}'"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _fail(name, value, where, expected) from None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _fail(name, value, where, expected)
    return dict(value)


def parse_choice(value: object, name: str, where: str, choices: Sequence[str]) -> str:
    """One of `choices`."""
    if value not in choices:
        raise _fail(name, value, where, "one of " + ", ".join(choices))
    return str(value)


def parse_tool(value: object, name: str, where: str) -> str:
    """A non-empty tool name."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(name, value, where, "the name of a tool on the server, e.g. 'fast_compute'")
    return value


def parse_arguments(value: object, name: str, where: str) -> dict[str, Any]:
    """A dict of tool arguments with string keys."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _fail(name, value, where, "a dict of tool arguments, e.g. {'input': 5}")
    return dict(value)


def parse_thresholds(value: object, name: str, where: str) -> tuple[str, ...]:
    """A list of threshold expressions, each checked now so typos fail at setup."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not all(isinstance(t, str) for t in items):
        raise _fail(
            name, value, where, "a list of expressions, e.g. ['p99<100ms', 'error_rate<1%']"
        )
    for text in items:
        parse_threshold(text, f"{where} {name}")
    return tuple(items)


#: the most growth a memory check may allow: more would let anything pass
MAX_MEMORY_GROWTH_PERCENT = 1000.0


def parse_memory_check(value: object, name: str, where: str) -> float:
    """The memory criterion: True for the seed's (no leak, growth < 10 %), a number for
    no leak and growth under that many percent, False to check nothing (0.0)."""
    expected = (
        "True (the seed's criterion: no leak, growth < 10%), a growth limit in percent "
        f"from 0 to {MAX_MEMORY_GROWTH_PERCENT:g} (no leak, growth < it), or False"
    )
    if value is True or (isinstance(value, str) and value.strip().lower() == "true"):
        return SEED_MEMORY_GROWTH_PERCENT
    if value is False or value is None:
        return 0.0
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _fail(name, value, where, expected) from None
    if not 0 < number <= MAX_MEMORY_GROWTH_PERCENT:
        raise _fail(name, value, where, expected)
    return number


def parse_mix(value: object, name: str, where: str) -> tuple[ToolCall, ...]:
    """A weighted tool mix: a list of (tool, arguments, weight) tuples or dicts."""
    expected = "a list like [('fast_compute', {'input': 5}, 3), ('async_io', {'delay_ms': 10}, 1)]"
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise _fail(name, value, where, expected)
    return tuple(_mix_entry(entry, name, where, expected) for entry in value)


def parse_mix_json(value: object, name: str, where: str) -> tuple[ToolCall, ...]:
    """A mix given as JSON text (the command line): a list of [tool, arguments, weight]
    entries or {"method", "params", "weight"} objects; a list is taken as is."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _fail(
                name,
                value,
                where,
                'a JSON list, e.g. \'[["fast_compute", {"input": 5}, 3], '
                '{"method": "resources/read", "params": {"uri": "file:///a"}, "weight": 1}]\'',
            ) from None
    return parse_mix(value, name, where)


def _mix_entry(entry: object, name: str, where: str, expected: str) -> ToolCall:
    if isinstance(entry, Mapping) and entry.get("method", TOOLS_CALL) != TOOLS_CALL:
        return _method_entry(
            entry.get("method"), entry.get("params", {}), entry.get("weight", 1.0), name, where
        )
    if (
        isinstance(entry, Sequence)
        and not isinstance(entry, str)
        and entry
        and entry[0] in LOAD_METHODS
        and entry[0] != TOOLS_CALL
    ):
        rest = list(entry[1:]) + [{}, 1.0][len(entry) - 1 :]
        return _method_entry(entry[0], rest[0], rest[1], name, where)
    if isinstance(entry, Mapping):
        entry = (entry.get("tool"), entry.get("arguments", {}), entry.get("weight", 1.0))
    if not isinstance(entry, Sequence) or isinstance(entry, str) or not 1 <= len(entry) <= 3:
        raise _fail(name, entry, where, expected)
    tool = parse_tool(entry[0], name, where)
    args = parse_arguments(entry[1] if len(entry) > 1 else {}, name, where)
    weight = parse_positive_float(entry[2] if len(entry) > 2 else 1.0, name, where)
    return ToolCall(tool, args, weight)


def _method_entry(
    method: object, params: object, weight: object, name: str, where: str
) -> ToolCall:
    """A mix entry naming a request kind: (method, params, weight)."""
    m = parse_method(method, name, where)
    p = parse_json_object(params, name, where)
    return ToolCall(request_label(m, p), {}, parse_positive_float(weight, name, where), m, p)


def parse_report(value: object, name: str, where: str) -> tuple[tuple[str, Path], ...]:
    """`FORMAT[:PATH]`, several joined by commas (`json:r.json,html:r.html`) ->
    ((format, path), ...); FORMAT is json or html, each at most once."""
    out: dict[str, Path] = {}
    for part in str(value).split(","):
        fmt, _, path = part.strip().partition(":")
        if fmt not in REPORT_FORMATS or fmt in out:
            raise _fail(
                name,
                value,
                where,
                "json[:PATH] or html[:PATH], or both joined by a comma, "
                "e.g. json:perf.json,html:perf.html",
            )
        out[fmt] = Path(path or DEFAULT_REPORT_PATHS[fmt])
    return tuple(out.items())


def parse_progress(value: object, name: str, where: str) -> str:
    return parse_choice(value, name, where, PROGRESS_CHOICES)


def parse_url(value: object, name: str, where: str) -> str:
    return check_url(str(value), where)


def parse_command(value: object, name: str, where: str) -> str:
    text = str(value)
    split_command(text, where)
    return text


#: The longest per-request timeout: a latency past it would not fit the histograms.
MAX_TIMEOUT_S = 3600.0


def parse_timeout(value: object, name: str, where: str) -> float:
    """Seconds > 0 and at most an hour (an endless timeout would hang on a silent server)."""
    number = parse_positive_float(value, name, where)
    if number > MAX_TIMEOUT_S:
        raise _fail(name, value, where, f"a number of seconds from 0 to {MAX_TIMEOUT_S:g}, e.g. 30")
    return number


#: The smallest response size limit: a JSON-RPC answer needs some room.
MIN_RESPONSE_BYTES = 1024


def parse_response_bytes(value: object, name: str, where: str) -> int:
    """A response size limit in bytes, at least 1 KiB."""
    number = parse_positive_int(value, name, where)
    if number < MIN_RESPONSE_BYTES:
        raise _fail(
            name, value, where, f"a whole number of bytes >= {MIN_RESPONSE_BYTES}, e.g. 16777216"
        )
    return number


def parse_optional_rate(value: object, name: str, where: str) -> float | None:
    return None if value is None else parse_positive_float(value, name, where)


def _lines(value: object) -> list[object]:
    """A repeatable setting's values: a list (options, ini lines) or one text that may
    hold several lines (an environment variable)."""
    if isinstance(value, str):
        return [line for line in value.splitlines() if line.strip()]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


_HEADER_NAME_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def parse_headers(value: object, name: str, where: str) -> dict[str, str]:
    """HTTP headers: "Name: value" lines (repeatable options, ini lines, env lines) or a
    dict (the marker's headers=). A value may name environment variables, `${TOKEN}`.

    Messages quote the header's name only: its value may be a secret.
    """
    expected = '"Name: value" lines, e.g. "Authorization: Bearer ${MCP_TOKEN}"'
    if isinstance(value, Mapping):
        items = [(k, v) for k, v in value.items()]
    else:
        items = []
        for line in _lines(value):
            if not isinstance(line, str) or ":" not in line:
                shown = line.split(":", 1)[0] if isinstance(line, str) else type(line).__name__
                raise ConfigError(
                    f"invalid {name} (a line starting {shown!r}) from {where}: expected {expected}"
                )
            key, _, text = line.partition(":")
            items.append((key.strip(), text.strip()))
    out: dict[str, str] = {}
    for key, text in items:
        if (
            not isinstance(key, str)
            or not key
            or not set(key) <= _HEADER_NAME_CHARS
            or not isinstance(text, str)
            or "\n" in text
            or "\r" in text
        ):
            raise ConfigError(
                f"invalid {name} {str(key)[:40]!r} from {where}: expected {expected} "
                "(a header name is letters, digits and -, a value one line of text)"
            )
        out[key] = text
    return out


def parse_server_env(value: object, name: str, where: str) -> dict[str, str]:
    """NAME=VALUE entries for a spawned server's environment ({port} allowed in VALUE)."""
    out: dict[str, str] = {}
    for line in _lines(value):
        text = str(line)
        key, sep, val = text.partition("=")
        if not sep or not key.strip() or not key.replace("_", "a").isalnum():
            raise ConfigError(
                f"invalid {name} {text.split('=', 1)[0]!r} from {where}: expected "
                "NAME=VALUE, e.g. PORT={port}"
            )
        out[key.strip()] = val
    return out


def parse_path(value: object, name: str, where: str) -> str:
    """A URL path that starts with / (the spawned server's MCP endpoint)."""
    text = str(value)
    if not text.startswith("/") or any(c.isspace() for c in text):
        raise _fail(name, value, where, "a path starting with /, e.g. /mcp")
    return text


def parse_method(value: object, name: str, where: str) -> str:
    """A request kind the load can be made of."""
    return parse_choice(value, name, where, LOAD_METHODS)


# ---------------------------------------------------------------- the load marker

Parser = Callable[[object, str, str], Any]

#: marker keyword -> (LoadSpec field, parser). The marker's full signature.
MARKER_KEYWORDS: dict[str, tuple[str, Parser]] = {
    "pattern": ("pattern", lambda v, n, w: parse_choice(v, n, w, PATTERNS)),
    "rate": ("rate", parse_positive_float),
    "duration": ("duration_s", parse_positive_float),
    "concurrency": ("concurrency", parse_positive_int),
    "users": ("users", parse_positive_int),
    "tool": ("tool", parse_tool),
    "arguments": ("arguments", parse_arguments),
    "thresholds": ("thresholds", parse_thresholds),
    "memory_check": ("memory_check", parse_memory_check),
    "warmup": ("warmup_s", parse_non_negative_float),
    "timeout": ("timeout_s", parse_timeout),
    "max_response_bytes": ("max_response_bytes", parse_response_bytes),
    "arrival": ("arrival", lambda v, n, w: parse_choice(v, n, w, ARRIVALS)),
    "burst_size": ("burst_size", parse_positive_int),
    "burst_interval": ("burst_interval_s", parse_positive_float),
    "ramp_to": ("ramp_to", parse_optional_rate),
    "mix": ("mix", parse_mix),
    "protocol": ("protocol", lambda v, n, w: parse_choice(v, n, w, PROTOCOLS)),
    "processes": ("processes", parse_positive_int),
    "method": ("method", parse_method),
    "params": ("params", parse_json_object),
    "headers": ("headers", parse_headers),
    "server_processes": ("server_processes", parse_positive_int),
    "journey_calls": ("journey_calls", parse_non_negative_int),
}

MARKER_SIGNATURE = (
    "load(pattern='throughput', rate=100, duration=10, concurrency=10, users=10, "
    "tool='fast_compute', arguments={'input': 10} (default tool; else {}), thresholds=[], "
    "memory_check=False, warmup=0, timeout=30, "
    "arrival='constant', burst_size=100, burst_interval=5, ramp_to=None, mix=[], "
    "protocol='auto'|'modern'|'legacy', processes=1, method='tools/call', params={}, "
    "headers={}, max_response_bytes=16777216, server_processes=1, journey_calls=5)"
)


@dataclass(frozen=True)
class Scenario:
    """A validated `load` marker (or run() overrides): spec fields plus thresholds."""

    fields: Mapping[str, Any]
    thresholds: tuple[str, ...] | None = None  # None: not given
    memory_check: float | None = None  # growth limit in percent; 0.0 off; None: not given


def parse_scenario(kwargs: Mapping[str, Any], where: str) -> Scenario:
    """Validate load keywords; an unknown keyword is an error naming it and the known ones."""
    fields: dict[str, Any] = {}
    thresholds: tuple[str, ...] | None = None
    memory_check: float | None = None
    for key, value in kwargs.items():
        if key not in MARKER_KEYWORDS:
            raise ConfigError(
                f"unknown keyword {key}={value!r} from {where}: the load marker "
                f"takes {', '.join(MARKER_KEYWORDS)}; fix the spelling or remove it"
            )
        field_name, parser = MARKER_KEYWORDS[key]
        parsed = parser(value, key, where)
        if key == "thresholds":
            thresholds = parsed
        elif key == "memory_check":
            memory_check = parsed
        else:
            fields[field_name] = parsed
    return Scenario(fields, thresholds, memory_check)


def marker_kwargs(args: Sequence[Any], kwargs: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The marker's keywords; positional arguments are refused (they are easy to misread)."""
    if args:
        raise ConfigError(
            f"positional arguments {tuple(args)!r} from {where}: the load marker "
            "takes keywords only, e.g. @pytest.mark.load(rate=100, duration=2)"
        )
    return dict(kwargs)


# ---------------------------------------------------------------- run-level settings


@dataclass(frozen=True)
class Setting:
    """One run-level setting and its twins: option dest, ini key, env var, parser."""

    name: str
    flag: str
    ini: str
    env: str
    parse: Parser
    default: Any = None
    repeat: bool = False  # repeatable option (append), ini lines, env lines


PYTEST = "pytest"

SETTINGS: tuple[Setting, ...] = (
    Setting("url", option(PYTEST, "url"), "mcp_url", "MCPPERF_URL", parse_url),
    Setting(
        "server_cmd",
        option(PYTEST, "server_cmd"),
        "mcp_server_cmd",
        "MCPPERF_SERVER_CMD",
        parse_command,
    ),
    Setting("report", "--perf-report", "perf_report", "MCPPERF_REPORT", parse_report),
    Setting(
        "progress", "--perf-progress", "perf_progress", "MCPPERF_PROGRESS", parse_progress, "auto"
    ),
    Setting(
        "duration",
        option(PYTEST, "duration"),
        "perf_duration",
        "MCPPERF_DURATION",
        parse_positive_float,
    ),
    Setting(
        "processes",
        option(PYTEST, "processes"),
        "perf_processes",
        "MCPPERF_PROCESSES",
        parse_positive_int,
        1,
    ),
    Setting(
        "startup_timeout",
        option(PYTEST, "startup_timeout"),
        "mcp_startup_timeout",
        "MCPPERF_STARTUP_TIMEOUT",
        parse_positive_float,
        20.0,
    ),
    Setting(
        "transport",
        option(PYTEST, "transport"),
        "mcp_transport",
        "MCPPERF_TRANSPORT",
        lambda v, n, w: parse_choice(v, n, w, TRANSPORTS),
        "http",
    ),
    Setting(
        "server_processes",
        option(PYTEST, "server_processes"),
        "mcp_server_processes",
        "MCPPERF_SERVER_PROCESSES",
        parse_positive_int,
        1,
    ),
    Setting(
        "headers",
        option(PYTEST, "header"),
        "mcp_headers",
        "MCPPERF_HEADERS",
        parse_headers,
        {},
        repeat=True,
    ),
    Setting(
        "server_env",
        option(PYTEST, "server_env"),
        "mcp_server_env",
        "MCPPERF_SERVER_ENV",
        parse_server_env,
        {},
        repeat=True,
    ),
    Setting(
        "server_path",
        option(PYTEST, "server_path"),
        "mcp_server_path",
        "MCPPERF_SERVER_PATH",
        parse_path,
        "/mcp",
    ),
    Setting(
        "memory_check",
        "--perf-memory-check",
        "perf_memory_check",
        "MCPPERF_MEMORY_CHECK",
        parse_memory_check,
        0.0,
    ),
)


def dest(setting: Setting) -> str:
    """The argparse dest of a setting's option."""
    return setting.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class RunSettings:
    """The effective run-level settings, each with the place it came from."""

    url: str | None = None
    server_cmd: str | None = None
    report: tuple[tuple[str, Path], ...] | None = None
    progress: str = "auto"
    duration: float | None = None
    processes: int = 1
    startup_timeout: float = 20.0
    transport: str = "http"
    server_processes: int = 1
    headers: Mapping[str, str] | None = None
    server_env: Mapping[str, str] | None = None
    server_path: str = "/mcp"
    memory_check: float = 0.0  # growth limit in percent for every load test; 0.0: none
    sources: Mapping[str, str] | None = None

    def source(self, name: str) -> str:
        return (self.sources or {}).get(name, "default")


def _raw(setting: Setting, config: ConfigLike, env: Mapping[str, str]) -> tuple[Any, str]:
    cli = config.getoption(dest(setting))
    if cli is not None and cli != []:
        return cli, setting.flag
    if env.get(setting.env):
        return env[setting.env], f"env {setting.env}"
    ini = config.getini(setting.ini)
    if ini not in (None, "", []):
        return ini, f"ini {setting.ini}"
    return None, "default"


def resolve_run_settings(config: ConfigLike, env: Mapping[str, str] | None = None) -> RunSettings:
    """CLI > env > ini > default for every run-level setting; raise ConfigError naming `where`."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        raw, where = _raw(setting, config, env)
        # CLI values were validated by the option's type= (which keeps the text as given).
        values[setting.name] = (
            setting.parse(raw, setting.flag, where) if raw is not None else setting.default
        )
        sources[setting.name] = where
    if values["transport"] == "stdio" and values["url"]:
        raise ConfigError(
            f"an MCP URL (from {sources['url']}) and the stdio transport (from "
            f"{sources['transport']}) are set: a stdio server is spawned from "
            f"{option(PYTEST, 'server_cmd')}; give that instead of the URL"
        )
    if values["server_processes"] > 1 and values["transport"] != "stdio":
        raise ConfigError(
            f"{option(PYTEST, 'server_processes')} (from {sources['server_processes']}) "
            f"is for stdio servers ({option(PYTEST, 'transport')} stdio): an HTTP server "
            "runs its own workers"
        )
    if values["url"] and values["server_cmd"]:
        raise ConfigError(
            f"both an MCP URL (from {sources['url']}) and a server command (from "
            f"{sources['server_cmd']}) are set: give only one of them"
        )
    return RunSettings(**values, sources=sources)


def cli_type(setting: Setting) -> Callable[[str], str]:
    """An argparse `type=` for a setting: rejects bad values quoting them, keeps the text
    (resolve_run_settings parses it, as it does env and ini values)."""
    import argparse

    def convert(text: str) -> str:
        try:
            setting.parse([text] if setting.repeat else text, setting.flag, setting.flag)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    convert.__name__ = setting.name
    return convert


# ---------------------------------------------------------------- the LoadSpec


def build_spec(
    *,
    url: str,
    run: RunSettings,
    marker: Scenario,
    overrides: Scenario | None = None,
    server_pid: int | None = None,
    scenario: str = "",
) -> LoadSpec:
    """The LoadSpec of one run: overrides > marker > CLI/env/ini > LoadSpec defaults."""
    fields: dict[str, Any] = {
        "processes": run.processes,
        "transport": run.transport,
        "server_processes": run.server_processes,
    }
    if run.transport == "stdio" and run.server_cmd:
        fields["server_cmd"] = tuple(split_command(run.server_cmd))
    headers = dict(run.headers or {})
    fields.update(marker.fields)
    if overrides is not None:
        fields.update(overrides.fields)
    fields["headers"] = {**headers, **fields.get("headers", {})}
    if fields.get("method") == TOOLS_CALL and "params" in fields:  # the long form
        params = fields.pop("params")
        fields["tool"] = parse_tool(params.get("name"), "params", "marker load")
        fields["arguments"] = dict(params.get("arguments") or {})
    if fields.get("method", TOOLS_CALL) != TOOLS_CALL:
        fields.setdefault("tool", request_label(fields["method"], fields.get("params", {})))
        fields.setdefault("arguments", {})
    if fields["server_processes"] > 1 and run.transport != "stdio":
        raise ConfigError(
            f"server_processes={fields['server_processes']} from marker load is for stdio "
            f"servers ({option(PYTEST, 'transport')} stdio): an HTTP server runs its own "
            "workers"
        )
    if run.duration is not None:  # --perf-duration caps every scenario, on purpose
        fields["duration_s"] = run.duration
    if "mix" in fields and "tool" not in fields:
        fields["tool"] = fields["mix"][0].tool
    if "tool" not in fields and "arguments" not in fields:
        # The default tool needs its argument; a named tool gets exactly what was given.
        fields["arguments"] = dict(DEFAULT_TOOL_ARGUMENTS)
    return LoadSpec(url=url, server_pid=server_pid, scenario=scenario, front_end=PYTEST, **fields)


def effective_thresholds(marker: Scenario, overrides: Scenario | None) -> tuple[str, ...]:
    """run(thresholds=...) replaces the marker's list; otherwise the marker's stands."""
    if overrides is not None and overrides.thresholds is not None:
        return overrides.thresholds
    return marker.thresholds or ()


def effective_memory_check(
    marker: Scenario, overrides: Scenario | None, run: RunSettings | None = None
) -> tuple[float, str]:
    """The memory check's growth limit in percent (0.0: none) and where it came from:
    run(memory_check=...) replaces the marker's, which replaces --perf-memory-check
    (and its ini and env twins)."""
    if overrides is not None and overrides.memory_check is not None:
        return overrides.memory_check, f"perf_client.run() memory_check={overrides.memory_check:g}"
    if marker.memory_check is not None:
        return marker.memory_check, f"marker load memory_check={marker.memory_check:g}"
    if run is not None and run.memory_check:
        return run.memory_check, f"{run.source('memory_check')} {run.memory_check:g}"
    return 0.0, "default"


def header_line(run: RunSettings) -> str:
    """The one report-header line with the effective settings."""
    if run.url:
        target = f"url {run.url}"
    elif run.server_cmd:
        target = f"server-cmd {run.server_cmd!r}"
    else:
        target = "bundled server"
    duration = f"{run.duration:g}s ({option(PYTEST, 'duration')})" if run.duration else "per marker"
    report = ",".join(f"{fmt}:{path}" for fmt, path in run.report) if run.report else "off"
    line = (
        f"mcpperf: target {target}, duration {duration}, processes {run.processes}, report {report}"
    )
    if run.transport != "http":
        line += f", transport {run.transport}"
    if run.server_processes > 1:
        line += f", server processes {run.server_processes}"
    if run.headers:  # names only: values may be secrets
        line += ", headers " + " ".join(sorted(run.headers))
    return line


# ---------------------------------------------------------------- repeats and baselines


@dataclass(frozen=True)
class CompareSettings:
    """`--perf-repeat`, `--perf-save[=NAME]`, `--perf-compare[=NAME]` and their company."""

    repeat: int = 1
    save: str | None = None
    compare: str | None = None
    gates: tuple[Gate, ...] = ()
    force: bool = False
    baseline_dir: Path = DEFAULT_DIR
    markdown: str | None = None


#: option -> (dest, metavar, help); the optional NAME options take `--opt` alone too.
COMPARE_OPTIONS: dict[str, tuple[str, str, str]] = {
    "--perf-repeat": (
        "perf_repeat",
        "N",
        "run every load scenario N times; the report keeps each repeat's summary and "
        "histograms and their spread, the median repeat stands for the scenario (default: 1)",
    ),
    "--perf-save": (
        "perf_save",
        "NAME",
        "save every scenario's per-run summaries as baseline NAME (default name: default) "
        "in --perf-baseline-dir, keyed by this machine's fingerprint",
    ),
    "--perf-compare": (
        "perf_compare",
        "NAME",
        "compare every scenario with baseline NAME (default name: default); a confident "
        "regression beyond --perf-compare-fail fails the test",
    ),
    "--perf-compare-fail": (
        "perf_compare_fail",
        "GATES",
        "gated metrics and the regression each may show, e.g. p99:10%,rps:5% "
        f"(default: {DEFAULT_GATES})",
    ),
    "--perf-compare-force": (
        "perf_compare_force",
        "",
        "fail on a regression even against a baseline saved on another machine "
        "(default: such a comparison only warns)",
    ),
    "--perf-baseline-dir": (
        "perf_baseline_dir",
        "DIR",
        "where baselines live, relative to the rootdir (default: .mcpperf/baselines)",
    ),
    "--perf-compare-markdown": (
        "perf_compare_markdown",
        "PATH",
        "append the comparisons as markdown tables to PATH (default: $GITHUB_STEP_SUMMARY "
        "when set)",
    ),
}


def parse_baseline_name(value: object, name: str, where: str) -> str:
    text = str(value)
    if not NAME_PATTERN.fullmatch(text):
        raise _fail(name, value, where, "letters, digits, '.', '_' or '-', e.g. main")
    return text


def parse_gates_option(value: object, name: str, where: str) -> tuple[Gate, ...]:
    return parse_gates(str(value), where)


def resolve_compare_settings(config: ConfigLike, rootdir: Path) -> CompareSettings:
    """The repeat, save and compare options (command line only), checked."""

    def get(dest: str) -> Any:
        return config.getoption(dest)

    repeat = get("perf_repeat")
    save, compare = get("perf_save"), get("perf_compare")
    gates = get("perf_compare_fail")
    directory = Path(get("perf_baseline_dir") or DEFAULT_DIR)
    return CompareSettings(
        repeat=parse_positive_int(repeat, "--perf-repeat", "--perf-repeat") if repeat else 1,
        save=parse_baseline_name(save, "--perf-save", "--perf-save") if save else None,
        compare=parse_baseline_name(compare, "--perf-compare", "--perf-compare")
        if compare
        else None,
        gates=parse_gates(gates or DEFAULT_GATES, "--perf-compare-fail"),
        force=bool(get("perf_compare_force")),
        baseline_dir=directory if directory.is_absolute() else rootdir / directory,
        markdown=get("perf_compare_markdown"),
    )
