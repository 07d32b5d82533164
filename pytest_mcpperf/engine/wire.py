"""Which transport a spec means, its TLS settings, and the headers every request carries.

`LoadSpec.transport` picks it: "http" (Streamable HTTP to `spec.url`, http:// or
https://) or "stdio" (a server process's pipes, `engine.stdio`). `spec.headers` are added
to every HTTP request, the handshake included; their values may name environment
variables (`Bearer ${MCP_TOKEN}`), which are read here, in the generator, so that a
secret never has to be written in a command line, a file, a spec or a report.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Awaitable, Mapping

from pytest_mcpperf.engine.http import HttpTransport
from pytest_mcpperf.engine.stdio import MAX_LINE_BYTES, StdioTransport, stdio_transport
from pytest_mcpperf.engine.transport import Link, Reply, Template, Transport
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import split_command
from pytest_mcpperf.vocabulary import option

__all__ = [
    "Link",
    "Reply",
    "StdioTransport",
    "Template",
    "Transport",
    "expand_headers",
    "target_transport",
    "tls_context",
    "transport_for",
]

TRANSPORTS = ("http", "stdio")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def tls_context(spec: LoadSpec) -> ssl.SSLContext | None:
    """TLS settings from `spec.extra`: `tls_ca_file` (PEM) and `tls_verify` (bool)."""
    if not spec.url.startswith("https:"):
        return None
    ctx = ssl.create_default_context(cafile=spec.extra.get("tls_ca_file"))
    if not spec.extra.get("tls_verify", True):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def expand_headers(
    headers: Mapping[str, str], env: Mapping[str, str] | None = None, front_end: str = "api"
) -> dict[str, str]:
    """`${NAME}` in each value replaced by the environment variable NAME.

    An unset variable is an error that names the variable and the header, never a value.
    """
    env = os.environ if env is None else env
    out: dict[str, str] = {}
    for name, value in headers.items():

        def sub(m: re.Match[str], header: str = name) -> str:
            var = m.group(1)
            if var not in env:
                raise ConfigError(
                    f"header {header} from {option(front_end, 'header')} refers to "
                    f"${{{var}}}, which is not set in the environment: export {var} "
                    "before the run"
                )
            return env[var]

        out[name] = _ENV_REF.sub(sub, value)
    return out


class HeaderTransport:
    """A transport whose every request also carries fixed `extra` headers."""

    def __init__(self, inner: Transport, extra: Mapping[str, str]) -> None:
        self.inner = inner
        self.extra = dict(extra)

    def connect(self, timeout_s: float) -> Awaitable[Link]:
        return self.inner.connect(timeout_s)

    def frame(self, method: str, headers: Mapping[str, str], body: bytes = b"") -> bytes:
        return self.inner.frame(method, {**headers, **self.extra}, body)

    def template(self, headers: Mapping[str, str], before: bytes, after: bytes) -> Template:
        return self.inner.template({**headers, **self.extra}, before, after)


def transport_for(spec: LoadSpec) -> Transport:
    """The transport `spec` asks for: HTTP to `spec.url`, or a stdio server's pipes."""
    if spec.transport not in TRANSPORTS:
        raise ConfigError(
            f"unknown transport {spec.transport!r}: use one of {', '.join(TRANSPORTS)} "
            f"({option(spec.front_end, 'transport')})"
        )
    if spec.transport == "stdio":
        return _stdio(spec)
    try:
        transport: Transport = HttpTransport(
            spec.url, ssl=tls_context(spec), max_response_bytes=spec.max_response_bytes
        )
    except ValueError as exc:
        raise ConfigError(
            f"{exc}; give the server's MCP endpoint, e.g. http://127.0.0.1:8080/mcp"
        ) from None
    if spec.headers:
        transport = HeaderTransport(transport, expand_headers(spec.headers, None, spec.front_end))
    return transport


def _stdio(spec: LoadSpec) -> Transport:
    max_line = int(spec.extra.get("stdio_max_line_bytes", 0) or 0) or MAX_LINE_BYTES
    try:
        return stdio_transport(
            spec.server_pid,
            tuple(spec.server_cmd),
            max_line,
            processes=spec.server_processes,
            front_end=spec.front_end,
        )
    except ValueError:
        raise ConfigError(
            "the stdio transport needs the server's command: give "
            f'{option(spec.front_end, "server_cmd")}, e.g. "python my_server.py"'
        ) from None


STDIO_URL = "stdio:"


def target_transport(url: str, pid: int | None = None) -> Transport:
    """The transport for a server named as `Target.url` names it, for the control path:
    `stdio:COMMAND` is the stdio server with `pid` that this process started (a copy
    of COMMAND of its own when there is none); anything else is HTTP to `url`."""
    if url.startswith(STDIO_URL):
        return stdio_transport(pid, split_command(url[len(STDIO_URL) :]))
    return HttpTransport(url)


def probe_version(url: str, pid: int | None) -> str:
    """A target's protocol revision over its own transport (HTTP, or a running stdio
    server's pipes): what `Target.version_probe` is set to by the front ends."""
    from pytest_mcpperf.engine.control import probe_protocol_version

    return probe_protocol_version(url, transport=target_transport(url, pid))
