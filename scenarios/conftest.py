"""Scenario suite configuration.

Every scenario here runs against the plugin's `mcp_server`: the bundled server unless
`--mcp-url` / `--mcp-server-cmd` say otherwise. Scenarios that call the bundled server's
tools carry `@pytest.mark.needs_tools(...)` and skip cleanly on a server whose
`tools/list` lacks them. Scenarios that read the server's memory skip when its pid is
unknown (`--mcp-url`). Every scenario runs over stdio too (`--mcp-transport stdio
--mcp-server-cmd "python -m mcpperf_server --stdio"`) except those marked
`@pytest.mark.needs_http(reason)`, which skip there with their reason.

The stress and memory scenarios use the plugin's own `stress_check` and `memory_series`
fixtures, so a project of its own can copy them as they are.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_mcpperf.engine.control import list_tools
from pytest_mcpperf.engine.wire import target_transport


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs_tools(*names): the scenario calls these tools; "
        "it is skipped on a server that does not list them",
    )
    config.addinivalue_line(
        "markers",
        "needs_http(reason): the scenario needs the HTTP transport; "
        "it is skipped over stdio, with the reason",
    )


@pytest.fixture(scope="session")
def server_tools(mcp_server: Any) -> set[str]:
    """The tools the server under test lists (asked once per session), over its
    transport: HTTP, or the pipes of a `--mcp-transport stdio` server."""
    return list_tools(mcp_server.url, transport=target_transport(mcp_server.url, mcp_server.pid))


@pytest.fixture(autouse=True)
def _skip_without_tools(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("needs_tools")
    if marker is None:
        return
    tools: set[str] = request.getfixturevalue("server_tools")
    missing = sorted(set(marker.args) - tools)
    if missing:
        listed = ", ".join(sorted(tools)) or "none"
        pytest.skip(
            f"needs the bundled server's tools {', '.join(missing)}; this server lists "
            f"{listed} (run without --mcp-url/--mcp-server-cmd)"
        )


@pytest.fixture(autouse=True)
def _skip_over_stdio(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("needs_http")
    if marker is None:
        return
    server = request.getfixturevalue("mcp_server")
    if str(server.url).startswith("stdio:"):
        pytest.skip(f"needs the HTTP transport: {marker.args[0]}")
