"""What the subcommands share: the global options, argument types, the target, the engine.

Argument types are settings' parsers (`pytest_mcpperf.settings.parse_*`) behind `arg()`,
so the command and the pytest options accept and refuse the same values with the same
words.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from pytest_mcpperf import settings
from pytest_mcpperf.cli.exitcodes import EPILOG, FORMATTER
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.result import LoadResult
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import DEFAULT_STARTUP_TIMEOUT_S, Target, split_command
from pytest_mcpperf.vocabulary import option

DEFAULT_SERVER_URL = "http://127.0.0.1:8080/mcp"
CLI = "cli"

T = TypeVar("T")
Runner = Callable[[LoadSpec], LoadResult]


def arg(parse: Callable[[object, str, str], T], flag: str) -> Callable[[str], T]:
    """An argparse `type=` from a settings parser: its value, or its message as a usage error."""

    def convert(text: str) -> T:
        try:
            return parse(text, flag, flag)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = flag.lstrip("-").replace("-", "_")  # argparse names it on errors
    return convert


def command_parser(
    sub: Any, name: str, common: argparse.ArgumentParser, help_text: str, description: str | None
) -> tuple[argparse.ArgumentParser, Any]:
    """A subcommand with modes (`mcpperf NAME MODE`): its parser and its modes' adder."""
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        parents=[common],
        help=help_text,
        description=description,
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    return p, p.add_subparsers(dest="mode", metavar="MODE", required=True)


def mode_parser(
    modes: Any,
    name: str,
    parents: list[argparse.ArgumentParser],
    help_text: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """One mode of a subcommand, with the exit codes in its help."""
    p: argparse.ArgumentParser = modes.add_parser(
        name,
        parents=parents,
        help=help_text,
        description=description,
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    return p


def add_typed(
    group: argparse._ActionsContainer,
    flag: str,
    parse: Callable[[object, str, str], Any],
    **kwargs: Any,
) -> argparse.Action:
    """`group.add_argument(flag, type=arg(parse, flag), **kwargs)`: the flag named once."""
    return group.add_argument(flag, type=arg(parse, flag), **kwargs)


def common_options(*, suppress: bool) -> argparse.ArgumentParser:
    """The global options, as a parent parser.

    The top-level parser gets real defaults; subcommand parsers get SUPPRESS, so a value
    given after the subcommand wins and one given before it is kept.
    """
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("global options")

    def d(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    def flag(key: str) -> str:
        return option(CLI, key)

    g.add_argument(
        flag("url"),
        metavar="URL",
        default=d(None),
        help="MCP endpoint of a running server (default: spawn the bundled "
        f"server; the seed's default was {DEFAULT_SERVER_URL})",
    )
    add_typed(
        g,
        flag("server_pid"),
        settings.parse_positive_int,
        metavar="PID",
        default=d(None),
        help=f"pid of the server behind {flag('url')}, so that its "
        "memory can be sampled (default: none; a spawned server's pid is always known)",
    )
    g.add_argument(
        flag("server_cmd"),
        metavar="CMD",
        default=d(None),
        help="spawn this server command instead, '{port}' replaced by a free "
        "port (default: the bundled server)",
    )
    add_typed(
        g,
        flag("startup_timeout"),
        settings.parse_positive_float,
        metavar="S",
        default=d(DEFAULT_STARTUP_TIMEOUT_S),
        help="how long a spawned server may "
        f"take to accept connections (default: {DEFAULT_STARTUP_TIMEOUT_S:g})",
    )
    g.add_argument(
        flag("transport"),
        choices=settings.TRANSPORTS,
        default=d("http"),
        help="http, or stdio: spawn --server-cmd and speak MCP over its stdin/stdout "
        "(default: http)",
    )
    add_typed(
        g,
        flag("server_processes"),
        settings.parse_positive_int,
        metavar="N",
        default=d(1),
        help="with --transport stdio: start N copies of the server and spread the "
        "connections over them, for a server that answers one request at a time "
        "(default: 1)",
    )
    add_typed(
        g,
        flag("header"),
        lambda v, n, w: settings.parse_headers([v], n, w),
        metavar='"NAME: VALUE"',
        action="append",
        default=d(None),
        help="send this HTTP header with every request (repeatable); ${VAR} in VALUE is "
        "read from the environment, so a token stays out of the command line; values "
        "never appear in the output",
    )
    add_typed(
        g,
        flag("server_env"),
        lambda v, n, w: settings.parse_server_env([v], n, w),
        metavar="NAME=VALUE",
        action="append",
        default=d(None),
        help="environment variable for the spawned server (repeatable; {port} in VALUE "
        "becomes its port)",
    )
    add_typed(
        g,
        flag("server_path"),
        settings.parse_path,
        metavar="PATH",
        default=d("/mcp"),
        help="the spawned server's MCP endpoint path (default: /mcp)",
    )
    add_typed(
        g,
        flag("concurrency"),
        settings.parse_positive_int,
        metavar="N",
        default=d(10),
        help="connections (open loop) or users (closed loop) (default: 10)",
    )
    add_typed(
        g,
        flag("duration"),
        settings.parse_positive_float,
        metavar="S",
        default=d(60.0),
        help="how long to send load (default: 60)",
    )
    add_typed(
        g,
        flag("processes"),
        settings.parse_positive_int,
        metavar="N",
        default=d(1),
        help="generator processes; histograms are merged exactly (default: 1)",
    )
    g.add_argument(
        "--json",
        action="store_true",
        default=d(False),
        help="print the report object (schema mcpperf/1) on stdout",
    )
    return p


def open_target(args: argparse.Namespace) -> Target:
    """The server the command measures: --server-url (checked, reached), else a spawned one.

    Use it as a context manager: a spawned server is stopped on the way out.
    """
    url: str | None = getattr(args, "server_url", None)
    command: str | None = getattr(args, "server_cmd", None)
    pid: int | None = getattr(args, "server_pid", None)
    if url and command:
        raise ConfigError(
            f"both {option(CLI, 'url')} and {option(CLI, 'server_cmd')} are "
            "set: give only one of them"
        )
    if url and getattr(args, "transport", "http") == "stdio":
        raise ConfigError(
            f"{option(CLI, 'url')} and {option(CLI, 'transport')} stdio are both set: a "
            f"stdio server is spawned from {option(CLI, 'server_cmd')}; give that instead"
        )
    server_processes = int(getattr(args, "server_processes", 1) or 1)
    if server_processes > 1 and getattr(args, "transport", "http") != "stdio":
        raise ConfigError(
            f"{option(CLI, 'server_processes')} is for stdio servers "
            f"({option(CLI, 'transport')} stdio): an HTTP server runs its own workers"
        )
    if url:
        target = Target.at_url(url, pid=pid, front_end=CLI)
        target.version_probe = _wire().probe_version
        return target
    if pid is not None:
        raise ConfigError(
            f"{option(CLI, 'server_pid')} is for a server at "
            f"{option(CLI, 'url')}; a spawned server's pid is known: drop it"
        )
    startup_timeout_s = float(getattr(args, "startup_timeout_seconds", DEFAULT_STARTUP_TIMEOUT_S))
    extra_env: dict[str, str] = {}
    for entry in getattr(args, "server_env", None) or ():
        extra_env.update(entry)
    target = Target.spawn(
        command,
        startup_timeout_s=startup_timeout_s,
        front_end=CLI,
        transport=getattr(args, "transport", "http"),
        env={**os.environ, **extra_env} if extra_env else None,
        path=getattr(args, "server_path", "/mcp"),
        processes=server_processes,
    )
    target.version_probe = _wire().probe_version  # over the target's own transport
    return target


def _wire() -> Any:
    """engine.wire, imported late so that `--help` stays fast."""
    return importlib.import_module("pytest_mcpperf.engine.wire")


def target_fields(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    """The LoadSpec fields that say where the load goes: url, pid, and `reach_fields`."""
    return {"url": target.url, "server_pid": target.pid, **reach_fields(args)}


def reach_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The LoadSpec fields that say how to reach the server: transport, the stdio
    command and its copies, and the headers (values as given: `${VAR}` is read by the
    engine)."""
    headers: dict[str, str] = {}
    for entry in getattr(args, "header", None) or ():
        headers.update(entry)
    transport = getattr(args, "transport", "http")
    command = getattr(args, "server_cmd", None)
    return {
        "transport": transport,
        "server_cmd": tuple(split_command(command)) if transport == "stdio" and command else (),
        "headers": headers,
        "server_processes": int(getattr(args, "server_processes", 1) or 1),
    }


def engine() -> Any:
    """The load engine module (`run`, `arun`), imported late so `--help` stays fast."""
    return importlib.import_module("pytest_mcpperf.engine.runner")


def default_runner() -> Runner:
    """The load engine's `run`."""
    return cast(Runner, engine().run)
