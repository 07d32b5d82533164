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

from pytest_mcpperf.analysis.criteria import parse_threshold
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.spec import DEFAULT_TOOL_ARGUMENTS, LoadSpec, ToolCall
from pytest_mcpperf.target import check_url, split_command
from pytest_mcpperf.vocabulary import ARRIVALS, PATTERNS, PROTOCOLS, option

DEFAULT_REPORT_PATH = "mcpperf-report.json"
REPORT_FORMATS = ("json",)


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


def parse_mix(value: object, name: str, where: str) -> tuple[ToolCall, ...]:
    """A weighted tool mix: a list of (tool, arguments, weight) tuples or dicts."""
    expected = "a list like [('fast_compute', {'input': 5}, 3), ('async_io', {'delay_ms': 10}, 1)]"
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise _fail(name, value, where, expected)
    return tuple(_mix_entry(entry, name, where, expected) for entry in value)


def _mix_entry(entry: object, name: str, where: str, expected: str) -> ToolCall:
    if isinstance(entry, Mapping):
        entry = (entry.get("tool"), entry.get("arguments", {}), entry.get("weight", 1.0))
    if not isinstance(entry, Sequence) or isinstance(entry, str) or not 1 <= len(entry) <= 3:
        raise _fail(name, entry, where, expected)
    tool = parse_tool(entry[0], name, where)
    args = parse_arguments(entry[1] if len(entry) > 1 else {}, name, where)
    weight = parse_positive_float(entry[2] if len(entry) > 2 else 1.0, name, where)
    return ToolCall(tool, args, weight)


def parse_report(value: object, name: str, where: str) -> tuple[str, Path]:
    """`json` or `json:PATH` -> (format, path)."""
    text = str(value)
    fmt, _, path = text.partition(":")
    if fmt not in REPORT_FORMATS:
        raise _fail(name, value, where, "json or json:PATH, e.g. json:perf.json")
    return fmt, Path(path or DEFAULT_REPORT_PATH)


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
}

MARKER_SIGNATURE = (
    "load(pattern='throughput', rate=100, duration=10, concurrency=10, users=10, "
    "tool='fast_compute', arguments={'input': 10} (default tool; else {}), thresholds=[], "
    "warmup=0, timeout=30, "
    "arrival='constant', burst_size=100, burst_interval=5, ramp_to=None, mix=[], "
    "protocol='auto'|'modern'|'legacy', processes=1, max_response_bytes=16777216)"
)


@dataclass(frozen=True)
class Scenario:
    """A validated `load` marker (or run() overrides): spec fields plus thresholds."""

    fields: Mapping[str, Any]
    thresholds: tuple[str, ...] | None = None  # None: not given


def parse_scenario(kwargs: Mapping[str, Any], where: str) -> Scenario:
    """Validate load keywords; an unknown keyword is an error naming it and the known ones."""
    fields: dict[str, Any] = {}
    thresholds: tuple[str, ...] | None = None
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
        else:
            fields[field_name] = parsed
    return Scenario(fields, thresholds)


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
)


def dest(setting: Setting) -> str:
    """The argparse dest of a setting's option."""
    return setting.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class RunSettings:
    """The effective run-level settings, each with the place it came from."""

    url: str | None = None
    server_cmd: str | None = None
    report: tuple[str, Path] | None = None
    duration: float | None = None
    processes: int = 1
    startup_timeout: float = 20.0
    sources: Mapping[str, str] | None = None

    def source(self, name: str) -> str:
        return (self.sources or {}).get(name, "default")


def _raw(setting: Setting, config: ConfigLike, env: Mapping[str, str]) -> tuple[Any, str]:
    cli = config.getoption(dest(setting))
    if cli is not None:
        return cli, setting.flag
    if env.get(setting.env):
        return env[setting.env], f"env {setting.env}"
    ini = config.getini(setting.ini)
    if ini not in (None, ""):
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
            setting.parse(text, setting.flag, setting.flag)
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
    fields: dict[str, Any] = {"processes": run.processes}
    fields.update(marker.fields)
    if overrides is not None:
        fields.update(overrides.fields)
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


def header_line(run: RunSettings) -> str:
    """The one report-header line with the effective settings."""
    if run.url:
        target = f"url {run.url}"
    elif run.server_cmd:
        target = f"server-cmd {run.server_cmd!r}"
    else:
        target = "bundled server"
    duration = f"{run.duration:g}s ({option(PYTEST, 'duration')})" if run.duration else "per marker"
    report = f"{run.report[0]}:{run.report[1]}" if run.report else "off"
    return (
        f"mcpperf: target {target}, duration {duration}, processes {run.processes}, report {report}"
    )
