"""Which transport a spec's URL means, and its TLS settings."""

from __future__ import annotations

import ssl

from pytest_mcpperf.engine.http import HttpTransport
from pytest_mcpperf.engine.transport import Link, Reply, Template, Transport
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.spec import LoadSpec

__all__ = ["Link", "Reply", "Template", "Transport", "tls_context", "transport_for"]


def tls_context(spec: LoadSpec) -> ssl.SSLContext | None:
    """TLS settings from `spec.extra`: `tls_ca_file` (PEM) and `tls_verify` (bool)."""
    if not spec.url.startswith("https:"):
        return None
    ctx = ssl.create_default_context(cafile=spec.extra.get("tls_ca_file"))
    if not spec.extra.get("tls_verify", True):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def transport_for(spec: LoadSpec) -> Transport:
    """The transport for `spec.url` (http:// and https:// today)."""
    try:
        return HttpTransport(
            spec.url, ssl=tls_context(spec), max_response_bytes=spec.max_response_bytes
        )
    except ValueError as exc:
        raise ConfigError(
            f"{exc}; give the server's MCP endpoint, e.g. http://127.0.0.1:8080/mcp"
        ) from None
