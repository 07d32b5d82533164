"""`engine.wire.target_transport`: the control path reaches a target the way its url names it."""

from __future__ import annotations

from pytest_mcpperf.engine.http import HttpTransport
from pytest_mcpperf.engine.stdio import StdioTransport
from pytest_mcpperf.engine.wire import target_transport


def test_an_http_url_is_reached_over_http() -> None:
    assert isinstance(target_transport("http://127.0.0.1:9/mcp", 123), HttpTransport)


def test_a_stdio_target_is_reached_over_its_command() -> None:
    transport = target_transport("stdio:python -m mcpperf_server --stdio 'a b'")
    assert isinstance(transport, StdioTransport)
    assert transport.server is None  # no running server of this process has that pid
    assert transport.command == ("python", "-m", "mcpperf_server", "--stdio", "a b")
