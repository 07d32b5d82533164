"""`python -m mcpperf_server` / `mcpperf server`: serve the bundled MCP load-test server.

Prints one readiness line to stderr once the socket listens:
`mcpperf-server listening on http://HOST:PORT/mcp (pid N, uvicorn)`.
SIGTERM / SIGINT shut it down gracefully (open streams are closed first).
With `--stdio` it speaks MCP on stdin/stdout instead (`stdio.py`) and says
`mcpperf-server serving MCP on stdio (pid N)` on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable

from .config import ServerConfig
from .limits import is_loopback

LEVELS = ("debug", "info", "warning", "error", "critical")
log = logging.getLogger("mcpperf_server")


def bind_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(
            f"invalid bind address {value!r}: use HOST:PORT, e.g. 127.0.0.1:8080"
        )
    return host, int(port)


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(value: str) -> int | float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {value!r}: not a number") from None
        if number <= 0:
            raise argparse.ArgumentTypeError(f"invalid value {value!r}: must be > 0")
        return number

    parse.__name__ = kind.__name__
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = ServerConfig()
    parser.add_argument(
        "--stdio",
        action="store_true",
        help="speak MCP on stdin/stdout (newline-delimited JSON-RPC, the legacy era's "
        "handshake, one session per process) instead of HTTP; logs go to stderr; stdin "
        "closing stops it with status 0. --max-body-bytes is then the longest line, "
        "--max-in-flight, --cpu-workers and --memory-budget-mb apply as over HTTP "
        "(default: HTTP)",
    )
    parser.add_argument(
        "--bind-address",
        default="127.0.0.1:8080",
        type=bind_address,
        metavar="HOST:PORT",
        help="address to listen on; a non-loopback "
        "address exposes the server (default: 127.0.0.1:8080; port 0 = any)",
    )
    parser.add_argument(
        "--log-level",
        choices=LEVELS,
        type=str.lower,
        default=None,
        metavar="LEVEL",
        help=f"one of {', '.join(LEVELS)} (default: $MCPPERF_LOG or warning)",
    )
    parser.add_argument(
        "--asgi-server",
        choices=("uvicorn", "hypercorn"),
        default="uvicorn",
        help="uvicorn (httptools + uvloop, fastest here) or hypercorn (default: uvicorn)",
    )
    parser.add_argument(
        "--session-idle-timeout",
        type=_positive(float),
        metavar="SECONDS",
        default=d.session_idle_timeout_s,
        help=f"expire legacy sessions idle this long (default: {d.session_idle_timeout_s:g})",
    )
    parser.add_argument(
        "--max-sessions",
        type=_positive(int),
        metavar="N",
        default=d.max_sessions,
        help=f"live legacy sessions before 503 (default: {d.max_sessions})",
    )
    parser.add_argument(
        "--memory-budget-mb",
        type=_positive(int),
        metavar="MIB",
        default=d.memory_budget_mb,
        help="MiB memory_allocate may hold at "
        f"once, all calls together (default: {d.memory_budget_mb})",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=_positive(int),
        metavar="BYTES",
        default=d.max_body_bytes,
        help=f"largest request body, else 413 (default: {d.max_body_bytes})",
    )
    parser.add_argument(
        "--max-in-flight",
        type=_positive(int),
        metavar="N",
        default=d.max_in_flight,
        help=f"requests handled at once before 503 (default: {d.max_in_flight})",
    )
    parser.add_argument(
        "--cpu-workers",
        type=_positive(int),
        metavar="N",
        default=d.cpu_workers,
        help=f"threads for blocking tool work (default: {d.cpu_workers})",
    )
    parser.add_argument(
        "--header-timeout",
        type=_positive(float),
        metavar="SECONDS",
        default=d.header_timeout_s,
        help="close a connection whose request "
        f"headers take longer (uvicorn; default: {d.header_timeout_s:g})",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="another Host/Origin name to accept (repeatable; default: none)",
    )


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    host, port = args.bind_address
    return ServerConfig(
        host=host,
        port=port,
        session_idle_timeout_s=args.session_idle_timeout,
        max_sessions=args.max_sessions,
        memory_budget_mb=args.memory_budget_mb,
        max_body_bytes=args.max_body_bytes,
        max_in_flight=args.max_in_flight,
        cpu_workers=args.cpu_workers,
        header_timeout_s=args.header_timeout,
        extra_hosts=tuple(args.allow_host),
    )


def configure_logging(level: str | None) -> str:
    chosen = (level or os.environ.get("MCPPERF_LOG") or "warning").lower()
    if chosen not in LEVELS:
        raise SystemExit(
            f"invalid log level {chosen!r} from MCPPERF_LOG; use one of {', '.join(LEVELS)}"
        )
    logging.basicConfig(
        level=chosen.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return chosen


def raise_fd_limit(wanted: int = 65536) -> None:
    """Lift the soft open-files limit toward the hard one: each client connection and
    stream is a descriptor, and 1024 is too few for fan-out or connection-flood runs."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def run_from_args(args: argparse.Namespace) -> int:
    level = configure_logging(args.log_level)
    config = config_from_args(args)
    if args.stdio:
        from .stdio import serve_stdio

        _install_uvloop()
        asyncio.run(serve_stdio(config))
        return 0
    if not is_loopback(config.host):
        log.warning(
            "binding %s: the server is reachable from other machines; it has no "
            "authentication. Use 127.0.0.1 unless you mean it.",
            config.host,
        )
    _install_uvloop()
    raise_fd_limit()
    from .serve import serve

    asyncio.run(serve(config, args.asgi_server, level))
    return 0


def _install_uvloop() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - non-Linux
        pass


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mcpperf_server", description="Run the bundled MCP load-test server."
    )
    add_arguments(parser)
    return run_from_args(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
